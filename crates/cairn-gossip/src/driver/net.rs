//! TCP plumbing for the driver: reading one framed stream message, and the two kinds of
//! exchanges (accepted and initiated).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::output::StreamRequest;
use crate::wire::{stream_frame_len, MAX_PUSH_STATE_BYTES};

/// Messages from I/O tasks to the node task.
pub(crate) enum Inbound {
    /// A framed message arrived on an accepted connection; reply through `reply`.
    Stream {
        from: SocketAddr,
        data: Vec<u8>,
        reply: oneshot::Sender<Option<Vec<u8>>>,
    },
    /// An outgoing exchange finished.
    StreamDone {
        id: u64,
        result: Result<Vec<u8>, String>,
    },
}

/// Reads exactly one stream message (or fails at EOF, on bad framing, or if too large).
pub(crate) async fn read_frame(conn: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match stream_frame_len(&buf) {
            Ok(Some(n)) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        if buf.len() > MAX_PUSH_STATE_BYTES + 1024 {
            return Err("stream message too large".into());
        }
        let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a complete message".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Serves one accepted connection: read a message, hand it to the node, write the reply.
pub(crate) async fn serve_conn(
    mut conn: TcpStream,
    from: SocketAddr,
    timeout: Duration,
    tx: mpsc::UnboundedSender<Inbound>,
) {
    let work = async {
        let data = read_frame(&mut conn).await?;
        let (rtx, rrx) = oneshot::channel();
        tx.send(Inbound::Stream {
            from,
            data,
            reply: rtx,
        })
        .map_err(|_| "node stopped".to_string())?;
        if let Ok(Some(reply)) = rrx.await {
            conn.write_all(&reply).await.map_err(|e| e.to_string())?;
            let _ = conn.shutdown().await;
        }
        Ok::<(), String>(())
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Err(e)) => tracing::debug!(%from, error = %e, "stream connection failed"),
        Err(_) => tracing::debug!(%from, "stream connection timed out"),
        Ok(Ok(())) => {}
    }
}

/// Performs an outgoing exchange and reports the result.
pub(crate) async fn exchange(
    req: StreamRequest,
    timeout: Duration,
    tx: mpsc::UnboundedSender<Inbound>,
    source: Option<std::net::IpAddr>,
) {
    let work = async {
        let mut conn = match source {
            // From the bound address, so peers (and firewalls) see who is talking.
            Some(ip) if ip.is_ipv4() == req.to.is_ipv4() => {
                let sock = if ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(|e| e.to_string())?;
                sock.bind(std::net::SocketAddr::new(ip, 0))
                    .map_err(|e| e.to_string())?;
                sock.connect(req.to).await.map_err(|e| e.to_string())?
            }
            _ => TcpStream::connect(req.to)
                .await
                .map_err(|e| e.to_string())?,
        };
        conn.write_all(&req.data).await.map_err(|e| e.to_string())?;
        if !req.expect_reply {
            let _ = conn.shutdown().await;
            return Ok(Vec::new());
        }
        read_frame(&mut conn).await
    };
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err("i/o timeout".to_string()),
    };
    let _ = tx.send(Inbound::StreamDone { id: req.id, result });
}
