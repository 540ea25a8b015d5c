//! The UDP loop. Answers come from memory, so a query is answered inline in the receiving
//! task and the reply sent straight on the socket; only a query whose answer has to wait
//! (recursion to an upstream resolver) is moved to a task of its own. This avoids a task
//! spawn and two channel hops per query, which dominated latency under load.

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Waker};
use tokio::net::UdpSocket;
use tracing::{debug, warn};

/// Largest datagram read (the UDP maximum; queries are far smaller).
const MAX_DATAGRAM: usize = 65_535;

/// Serve queries arriving on `socket` with `handler` until `shutdown` completes.
/// Several loops may share one socket: each takes the next datagram.
pub(crate) async fn serve<H, F>(socket: Arc<UdpSocket>, handler: Arc<H>, shutdown: F)
where
    H: RequestHandler,
    F: Future<Output = ()>,
{
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut shutdown = pin!(shutdown);
    loop {
        let (len, src) = tokio::select! {
            biased;
            _ = &mut shutdown => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(error) => {
                    // ICMP errors from earlier replies surface here; keep serving.
                    debug!(%error, "udp receive error");
                    continue;
                }
            },
        };
        if !can_reply_to(src) {
            warn!(%src, "not answering a query from an address that cannot be replied to");
            continue;
        }
        let raw = buf[..len].to_vec();
        let responder = UdpResponder {
            socket: socket.clone(),
            dst: src,
        };
        match Request::from_bytes(raw, src, Protocol::Udp) {
            Ok(request) => {
                if request.metadata.message_type == MessageType::Response {
                    // Never answer responses: that would make us a reflector.
                    continue;
                }
                let handler = handler.clone();
                run_inline_or_spawn(async move {
                    handler
                        .handle_request::<_, TokioTime>(&request, responder)
                        .await;
                });
            }
            Err(_) => send_format_error(&socket, &buf[..len], src).await,
        }
    }
}

/// Poll `fut` once here; if it is not finished (it waits on the network), finish it in a
/// task of its own so the loop keeps answering.
fn run_inline_or_spawn<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut fut = Box::pin(fut);
    let mut cx = Context::from_waker(Waker::noop());
    if fut.as_mut().poll(&mut cx).is_pending() {
        // The next poll, in the task, registers the task's waker with whatever is pending.
        tokio::spawn(fut);
    }
}

/// hickory-server's rule: no reply to port 0, the unspecified or the broadcast address.
fn can_reply_to(src: SocketAddr) -> bool {
    if src.port() == 0 {
        return false;
    }
    match src.ip() {
        IpAddr::V4(ip) => !ip.is_unspecified() && !ip.is_broadcast(),
        IpAddr::V6(ip) => !ip.is_unspecified(),
    }
}

/// Answer a datagram that has a header but no parsable question with FORMERR; ignore
/// anything shorter than a header, or a response.
async fn send_format_error(socket: &UdpSocket, raw: &[u8], dst: SocketAddr) {
    let Ok(query) = Header::read(&mut BinDecoder::new(raw)) else {
        return;
    };
    if query.metadata.message_type == MessageType::Response {
        return;
    }
    let mut metadata = Metadata::response_from_request(&query.metadata);
    metadata.response_code = ResponseCode::FormErr;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    let mut bytes = Vec::with_capacity(12);
    if header.emit(&mut BinEncoder::new(&mut bytes)).is_ok() {
        send(socket, &bytes, dst).await;
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], dst: SocketAddr) {
    // Usually the socket has room: send without a round through the reactor.
    let result = match socket.try_send_to(bytes, dst) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => socket.send_to(bytes, dst).await,
        other => other,
    };
    if let Err(error) = result {
        debug!(%error, %dst, "udp send failed");
    }
}

/// Sends a response to one client on the shared socket.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let id = response.metadata().id;
        // RFC 1035 4.2.1: 512 bytes without EDNS, else the client's advertised size.
        let max = response.edns().map_or(512, |e| e.max_payload().max(512));
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "error encoding DNS response; answering SERVFAIL");
                bytes.clear();
                let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
                metadata.response_code = ResponseCode::ServFail;
                let header = Header {
                    metadata,
                    counts: HeaderCounts::default(),
                };
                header
                    .emit(&mut BinEncoder::new(&mut bytes))
                    .map_err(|e| NetError::from(e.to_string()))?;
                ResponseInfo::from(header)
            }
        };
        send(&self.socket, &bytes, self.dst).await;
        Ok(info)
    }
}
