//! Starting, reloading and stopping the DNS server on injected sockets.

use crate::answer::Answerer;
use crate::backend::DnsBackend;
use crate::config::{DnsConfig, Settings};
use crate::error::DnsError;
use crate::handler::DnsHandler;
use arc_swap::ArcSwap;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::info;

/// Idle time after which a TCP connection is closed (miekg/dns's default).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(8);
/// UDP receive loops sharing the socket: two keep both cores of a small machine answering
/// (one loop alone answered fewer queries per second than hickory's task per query).
const UDP_LOOPS: usize = 2;
/// Requested UDP receive buffer in bytes.
const UDP_RECV_BUFFER: usize = 4 << 20;
/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

/// The sockets a DNS server answers on (Consul serves both UDP and TCP on `-dns-port`).
#[derive(Debug, Default)]
pub struct DnsListeners {
    /// Bound UDP socket, if UDP is served.
    pub udp: Option<UdpSocket>,
    /// Bound TCP listener, if TCP is served.
    pub tcp: Option<TcpListener>,
}

impl DnsListeners {
    /// Binds UDP and TCP on the same address. With port 0 the UDP socket's port is reused
    /// for TCP (retried a few times if that TCP port is taken).
    pub fn bind(addr: SocketAddr) -> io::Result<DnsListeners> {
        let mut last_err = None;
        for _ in 0..8 {
            let udp = UdpSocket::bind(addr)?;
            let port = udp.local_addr()?.port();
            match TcpListener::bind(SocketAddr::new(addr.ip(), port)) {
                Ok(tcp) => {
                    return Ok(DnsListeners {
                        udp: Some(udp),
                        tcp: Some(tcp),
                    })
                }
                Err(e) if addr.port() == 0 => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no free port for UDP and TCP")))
    }

    /// The UDP address, if any.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// The TCP address, if any.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|s| s.local_addr().ok())
    }
}

/// Consul's DNS interface on hickory-server.
pub struct DnsServer;

/// A running server started by [`DnsServer::start`].
#[derive(Debug)]
pub struct DnsServerHandle {
    settings: Arc<ArcSwap<Settings>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), DnsError>>,
    udp_addr: Option<SocketAddr>,
    tcp_addr: Option<SocketAddr>,
}

impl DnsServer {
    /// Serves on `listeners` until `shutdown` completes, then stops gracefully.
    /// Must run inside a tokio runtime.
    pub async fn serve<B, F>(
        listeners: DnsListeners,
        backend: Arc<B>,
        config: DnsConfig,
        shutdown: F,
    ) -> Result<(), DnsError>
    where
        B: DnsBackend,
        F: Future<Output = ()> + Send,
    {
        let settings = Arc::new(ArcSwap::from_pointee(Settings::from_config(&config)?));
        run(listeners, backend, settings, shutdown).await
    }

    /// Starts serving in a background task. Must be called inside a tokio runtime.
    pub fn start<B: DnsBackend>(
        listeners: DnsListeners,
        backend: Arc<B>,
        config: DnsConfig,
    ) -> Result<DnsServerHandle, DnsError> {
        let settings = Arc::new(ArcSwap::from_pointee(Settings::from_config(&config)?));
        let (udp_addr, tcp_addr) = (listeners.udp_addr(), listeners.tcp_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listeners, backend, settings.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(DnsServerHandle {
            settings,
            stop: Some(stop),
            task,
            udp_addr,
            tcp_addr,
        })
    }
}

async fn run<B, F>(
    listeners: DnsListeners,
    backend: Arc<B>,
    settings: Arc<ArcSwap<Settings>>,
    shutdown: F,
) -> Result<(), DnsError>
where
    B: DnsBackend,
    F: Future<Output = ()> + Send,
{
    let make_handler = || DnsHandler {
        answerer: Answerer {
            backend: backend.clone(),
        },
        settings: settings.clone(),
    };
    let (stop_udp, udp_stopped) = tokio::sync::watch::channel(false);
    let mut udp_task = None;
    if let Some(udp) = listeners.udp {
        udp.set_nonblocking(true)?;
        let addr = udp.local_addr()?;
        // Bursts arriving while both loops are busy must not overflow the kernel's default
        // 208 KB buffer (the kernel caps this at net.core.rmem_max).
        if let Err(error) = socket2::SockRef::from(&udp).set_recv_buffer_size(UDP_RECV_BUFFER) {
            tracing::debug!(%error, "could not enlarge the DNS UDP receive buffer");
        }
        let socket = Arc::new(tokio::net::UdpSocket::from_std(udp)?);
        let handler = Arc::new(make_handler());
        let mut loops = Vec::new();
        for _ in 0..UDP_LOOPS {
            let mut stopped = udp_stopped.clone();
            let serve = crate::udp::serve(socket.clone(), handler.clone(), async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            });
            loops.push(tokio::spawn(serve));
        }
        udp_task = Some(loops);
        info!(%addr, "DNS server listening (udp)");
    }
    let mut server = hickory_server::Server::new(make_handler());
    if let Some(tcp) = listeners.tcp {
        tcp.set_nonblocking(true)?;
        let addr = tcp.local_addr()?;
        server.register_listener(
            tokio::net::TcpListener::from_std(tcp)?,
            TCP_IDLE_TIMEOUT,
            TCP_RESPONSE_BUFFER,
        );
        info!(%addr, "DNS server listening (tcp)");
    }
    shutdown.await;
    let _ = stop_udp.send(true);
    for task in udp_task.into_iter().flatten() {
        task.await
            .map_err(|e| DnsError::Server(format!("udp task: {e}")))?;
    }
    server
        .shutdown_gracefully()
        .await
        .map_err(|e| DnsError::Server(e.to_string()))
}

impl DnsServerHandle {
    /// The UDP address served, if any.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// The TCP address served, if any.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// Applies a new configuration to the following queries (Consul reloads DNS settings
    /// without restarting the listeners).
    pub fn reload(&self, config: &DnsConfig) -> Result<(), DnsError> {
        self.settings
            .store(Arc::new(Settings::from_config(config)?));
        Ok(())
    }

    /// Stops the server and waits for its tasks to end.
    pub async fn shutdown(mut self) -> Result<(), DnsError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(DnsError::Server(e.to_string())),
        }
    }
}
