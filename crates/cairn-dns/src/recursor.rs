//! Forwarding names outside our zones to the configured recursors, as Consul's
//! `handleRecurse` does: each recursor in turn (or in random order), over the client's
//! transport, with a timeout per exchange; the first NOERROR or NXDOMAIN answer wins.

use crate::config::Settings;
use crate::rng;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, Instant};
use tracing::{debug, warn};

/// The recursors in the order to try them.
fn order(s: &Settings) -> Vec<SocketAddr> {
    let mut list = s.recursors.clone();
    if s.recursor_random {
        rng::shuffle(&mut list);
    }
    list
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "recursor timed out")
}

async fn exchange_udp(
    upstream: SocketAddr,
    request: &[u8],
    id: u16,
    wait: Duration,
) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(request).await?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = timeout(left, socket.recv(&mut buf))
            .await
            .map_err(|_| timed_out())??;
        // Ignore stray datagrams that do not answer this request.
        if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn exchange_tcp(upstream: SocketAddr, request: &[u8], wait: Duration) -> io::Result<Vec<u8>> {
    let work = async {
        let mut stream = TcpStream::connect(upstream).await?;
        let len = u16::try_from(request.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "request too long"))?;
        let mut framed = Vec::with_capacity(request.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(request);
        stream.write_all(&framed).await?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut buf).await?;
        Ok(buf)
    };
    timeout(wait, work).await.map_err(|_| timed_out())?
}

async fn exchange(
    upstream: SocketAddr,
    request: &[u8],
    id: u16,
    tcp: bool,
    wait: Duration,
) -> io::Result<Message> {
    let bytes = if tcp {
        exchange_tcp(upstream, request, wait).await?
    } else {
        exchange_udp(upstream, request, id, wait).await?
    };
    Message::from_vec(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

/// Forwards a client's request; `None` when every recursor failed (SERVFAIL).
pub(crate) async fn forward(s: &Settings, request: &[u8], id: u16, tcp: bool) -> Option<Message> {
    for upstream in order(s) {
        match exchange(upstream, request, id, tcp, s.recursor_timeout).await {
            Ok(msg)
                if matches!(
                    msg.metadata.response_code,
                    ResponseCode::NoError | ResponseCode::NXDomain
                ) =>
            {
                debug!(%upstream, "recurse succeeded");
                return Some(msg);
            }
            Ok(msg) => {
                debug!(%upstream, rcode = %msg.metadata.response_code, "recurse failed");
            }
            Err(error) => warn!(%upstream, %error, "recurse failed"),
        }
    }
    warn!("all resolvers failed");
    None
}

/// A records of an external hostname (used for services registered with one), from the
/// first recursor that answers.
pub(crate) async fn lookup_a(s: &Settings, name: &Name) -> Vec<Record> {
    let id = (rng::next_u64() & 0xffff) as u16;
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name.clone(), RecordType::A));
    let Ok(request) = msg.to_vec() else {
        return Vec::new();
    };
    for upstream in order(s) {
        match exchange(upstream, &request, id, false, s.recursor_timeout).await {
            Ok(reply) => return reply.answers,
            Err(error) => warn!(%upstream, %error, name = %name, "cname recurse failed"),
        }
    }
    Vec::new()
}
