//! The hickory `RequestHandler`: request checks, EDNS, trimming, and sending.

use crate::answer::{Answerer, Outcome, Question, Reply};
use crate::backend::DnsBackend;
use crate::config::Settings;
use crate::recursor;
use crate::trim::{self, Sections, Transport};
use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, Header, HeaderCounts, Message, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::sync::Arc;
use tracing::warn;

/// Serves Consul-style answers from a backend.
pub(crate) struct DnsHandler<B> {
    pub answerer: Answerer<B>,
    pub settings: Arc<ArcSwap<Settings>>,
}

const NO_RECORDS: [&Record; 0] = [];

fn servfail_info(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// The response's OPT record: the client's payload size echoed, and its client-subnet
/// option with scope 0 for answers valid everywhere (Consul's `setEDNS`).
fn response_edns(request: &Request, rcode: ResponseCode, ecs_global: bool) -> Option<Edns> {
    let req = request.edns.as_ref()?;
    let mut edns = Edns::new();
    edns.set_max_payload(req.max_payload());
    if let Some(EdnsOption::Subnet(subnet)) = req.option(EdnsCode::Subnet) {
        let global = ecs_global
            || matches!(
                rcode,
                ResponseCode::NXDomain
                    | ResponseCode::ServFail
                    | ResponseCode::Refused
                    | ResponseCode::NotImp
            );
        let scope = if global { 0 } else { subnet.source_prefix() };
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(
                subnet.addr(),
                subnet.source_prefix(),
                scope,
            )));
    }
    Some(edns)
}

fn opt_len(edns: Option<&Edns>) -> usize {
    match edns {
        None => 0,
        Some(e) => {
            11 + match e.option(EdnsCode::Subnet) {
                Some(EdnsOption::Subnet(s)) => 4 + s.len() as usize,
                _ => 0,
            }
        }
    }
}

impl<B: DnsBackend> DnsHandler<B> {
    async fn send_error<R: ResponseHandler>(
        request: &Request,
        response: &mut R,
        rcode: ResponseCode,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::new(&request.queries, None);
        let msg = builder.error_msg(&request.metadata, rcode);
        match response.send_response(msg).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "failed to send DNS error response");
                servfail_info(request)
            }
        }
    }

    async fn send_reply<R: ResponseHandler>(
        &self,
        s: &Settings,
        request: &Request,
        response: &mut R,
        q: &Question<'_>,
        mut reply: Reply,
    ) -> ResponseInfo {
        let edns = response_edns(request, reply.rcode, reply.ecs_global);
        let query = request.queries.queries()[0].original();
        let mut sections = Sections {
            query,
            answers: &mut reply.answers,
            authority: &mut reply.authority,
            additional: &mut reply.additional,
            opt_len: opt_len(edns.as_ref()),
        };
        let trimmed = trim::trim(
            &mut sections,
            q.transport,
            s.udp_answer_limit,
            q.qtype == RecordType::SRV,
            reply.built_all,
        );
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.authoritative = true;
        meta.recursion_available = s.can_recurse();
        meta.response_code = reply.rcode;
        meta.truncation = trimmed && s.enable_truncate;
        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let msg = builder.build(
            meta,
            reply.answers.iter(),
            reply.authority.iter(),
            NO_RECORDS,
            reply.additional.iter(),
        );
        match response.send_response(msg).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "failed to send DNS response");
                servfail_info(request)
            }
        }
    }

    async fn send_forwarded<R: ResponseHandler>(
        &self,
        s: &Settings,
        request: &Request,
        response: &mut R,
    ) -> ResponseInfo {
        let tcp = request.protocol() != Protocol::Udp;
        let upstream: Option<Message> =
            recursor::forward(s, request.as_slice(), request.metadata.id, tcp).await;
        let result = match upstream {
            Some(msg) => {
                let mut meta = msg.metadata;
                meta.id = request.metadata.id;
                let mut builder = MessageResponseBuilder::new(&request.queries, None);
                if let Some(edns) = &msg.edns {
                    builder.edns(edns);
                }
                let out = builder.build(
                    meta,
                    msg.answers.iter(),
                    msg.authorities.iter(),
                    NO_RECORDS,
                    msg.additionals.iter(),
                );
                response.send_response(out).await
            }
            None => {
                let mut meta = Metadata::response_from_request(&request.metadata);
                meta.recursion_available = true;
                meta.response_code = ResponseCode::ServFail;
                let edns = response_edns(request, ResponseCode::ServFail, true);
                let mut builder = MessageResponseBuilder::new(&request.queries, None);
                if let Some(edns) = &edns {
                    builder.edns(edns);
                }
                response.send_response(builder.build_no_records(meta)).await
            }
        };
        match result {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "failed to send forwarded DNS response");
                servfail_info(request)
            }
        }
    }
}

#[async_trait::async_trait]
impl<B: DnsBackend> RequestHandler for DnsHandler<B> {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        // As miekg/dns: only standard queries, with exactly one question.
        if request.metadata.op_code != OpCode::Query {
            return Self::send_error(request, &mut response, ResponseCode::NotImp).await;
        }
        let queries = request.queries.queries();
        if queries.len() != 1 {
            return Self::send_error(request, &mut response, ResponseCode::FormErr).await;
        }
        let settings = self.settings.load_full();
        let s = settings.as_ref();
        let query = queries[0].original();
        let labels: Vec<String> = query
            .name()
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        let transport = match request.protocol() {
            Protocol::Udp => Transport::Udp {
                edns_size: request.edns.as_ref().map(Edns::max_payload),
            },
            _ => Transport::Tcp,
        };
        // Prepared queries sort by the client's address: the EDNS client subnet if given.
        let src = match request
            .edns
            .as_ref()
            .and_then(|e| e.option(EdnsCode::Subnet))
        {
            Some(EdnsOption::Subnet(subnet)) => subnet.addr(),
            _ => request.src().ip(),
        };
        let q = Question {
            name: query.name(),
            labels: &labels,
            qtype: query.query_type(),
            transport,
            src,
        };
        match self.answerer.answer(s, &q).await {
            Outcome::Reply(reply) => self.send_reply(s, request, &mut response, &q, reply).await,
            Outcome::Forward => self.send_forwarded(s, request, &mut response).await,
            Outcome::Refused => {
                Self::send_error(request, &mut response, ResponseCode::Refused).await
            }
        }
    }
}
