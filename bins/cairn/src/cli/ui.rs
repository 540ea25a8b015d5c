//! Where commands write: stdout and stderr, or buffers in tests.

use std::io::Write;
#[cfg(test)]
use std::sync::{Arc, Mutex};

#[derive(Clone)]
enum Sink {
    Stdout,
    Stderr,
    #[cfg(test)]
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl Sink {
    fn write(&self, bytes: &[u8]) {
        // Output errors (closed pipe) are not worth failing a command over.
        let _ = match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|_| out.flush())
            }
            Sink::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(bytes).and_then(|_| err.flush())
            }
            #[cfg(test)]
            Sink::Buffer(buf) => {
                buf.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(bytes);
                Ok(())
            }
        };
    }
}

/// Output of a command: `output` lines to stdout, `error` lines to stderr, as Consul's
/// `cli.BasicUi` does.
#[derive(Clone)]
pub struct Ui {
    out: Sink,
    err: Sink,
}

impl Ui {
    /// Real stdout and stderr.
    pub fn stdio() -> Ui {
        Ui {
            out: Sink::Stdout,
            err: Sink::Stderr,
        }
    }

    #[cfg(test)]
    /// Buffers, for tests: returns the UI and a handle to read what it wrote.
    pub fn capture() -> (Ui, Captured) {
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        (
            Ui {
                out: Sink::Buffer(out.clone()),
                err: Sink::Buffer(err.clone()),
            },
            Captured { out, err },
        )
    }

    /// A line on stdout.
    pub fn output(&self, line: &str) {
        self.out.write(format!("{line}\n").as_bytes());
    }

    /// Raw bytes on stdout, then a newline (values may not be UTF-8).
    pub fn output_bytes(&self, bytes: &[u8]) {
        let mut v = bytes.to_vec();
        v.push(b'\n');
        self.out.write(&v);
    }

    /// A line on stderr.
    pub fn error(&self, line: &str) {
        self.err.write(format!("{line}\n").as_bytes());
    }
}

/// What a captured [`Ui`] wrote.
#[cfg(test)]
pub struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

#[cfg(test)]
impl Captured {
    /// Everything written to stdout.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap_or_else(|p| p.into_inner())).to_string()
    }

    /// Everything written to stderr.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap_or_else(|p| p.into_inner())).to_string()
    }
}
