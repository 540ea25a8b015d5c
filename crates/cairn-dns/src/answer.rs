//! Turning a question into records: zone dispatch, SOA/NS, nodes, `.addr`, PTR, virtual IPs
//! and prepared queries. Service instances are rendered in `service.rs`.

use crate::backend::{DnsBackend, ServiceKind};
use crate::config::Settings;
use crate::error::BackendError;
use crate::name::{self, Lookup, Zone};
use crate::records::{self, Accept};
use crate::recursor;
use crate::rng;
use crate::trim::Transport;
use cairn_types::{CheckStatus, Node};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{NS, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use tracing::{debug, warn};

/// How many times a CNAME into our own domain may be followed.
pub(crate) const MAX_RECURSION_LEVEL: u8 = 3;

/// A question as the resolver sees it.
pub(crate) struct Question<'a> {
    /// The name as asked; owner of the answers.
    pub name: &'a Name,
    /// Its labels in lower case.
    pub labels: &'a [String],
    pub qtype: RecordType,
    pub transport: Transport,
    pub src: IpAddr,
}

impl Question<'_> {
    pub fn edns(&self) -> bool {
        matches!(self.transport, Transport::Udp { edns_size: Some(_) })
    }
}

/// The records of an authoritative answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    /// Whether an EDNS client-subnet answer is valid for everyone (scope 0).
    pub ecs_global: bool,
    /// False when answer building stopped early at the transport's answer cap.
    pub built_all: bool,
}

impl Reply {
    pub fn new(rcode: ResponseCode) -> Reply {
        Reply {
            rcode,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            ecs_global: true,
            built_all: true,
        }
    }
}

/// What to do with a question.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answer authoritatively with these records.
    Reply(Reply),
    /// Pass the request to the recursors.
    Forward,
    /// Outside our zones and no recursors.
    Refused,
}

/// Why a lookup produced no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// The name does not exist: NXDOMAIN with SOA.
    NameError,
    /// The name exists without records of the asked type: NOERROR with SOA.
    NoData,
    /// The catalog could not be read: SERVFAIL.
    Unavailable,
}

impl From<BackendError> for Fail {
    fn from(e: BackendError) -> Fail {
        match e {
            BackendError::UnknownDatacenter => Fail::NameError,
            BackendError::Unavailable(why) => {
                warn!(error = %why, "DNS lookup failed");
                Fail::Unavailable
            }
        }
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Answers questions from a backend.
pub(crate) struct Answerer<B> {
    pub backend: Arc<B>,
}

/// Whether an instance in `status` is served (critical never; warning unless only_passing).
pub(crate) fn healthy(status: CheckStatus, only_passing: bool) -> bool {
    match status {
        CheckStatus::Passing => true,
        CheckStatus::Warning => !only_passing,
        CheckStatus::Critical | CheckStatus::Maintenance => false,
    }
}

impl<B: DnsBackend> Answerer<B> {
    /// Decides what to do with a question.
    pub async fn answer(&self, s: &Settings, q: &Question<'_>) -> Outcome {
        match name::classify(q.labels, s) {
            Zone::Domain { alt, prefix } => {
                let domain = match (alt, &s.alt_domain) {
                    (true, Some(alt)) => alt.as_str(),
                    _ => s.domain.as_str(),
                };
                Outcome::Reply(self.in_domain(s, q, domain, prefix).await)
            }
            Zone::Arpa => {
                if matches!(q.qtype, RecordType::SOA | RecordType::NS) {
                    return Outcome::Reply(self.in_domain(s, q, &s.domain, 0).await);
                }
                match self.ptr(s, q) {
                    Some(reply) => Outcome::Reply(reply),
                    None if s.can_recurse() => Outcome::Forward,
                    None => {
                        let mut reply = Reply::new(ResponseCode::NXDomain);
                        reply.authority.extend(records::soa(s, &s.domain));
                        Outcome::Reply(reply)
                    }
                }
            }
            Zone::Other if s.can_recurse() => Outcome::Forward,
            Zone::Other => Outcome::Refused,
        }
    }

    async fn in_domain(
        &self,
        s: &Settings,
        q: &Question<'_>,
        domain: &str,
        prefix: usize,
    ) -> Reply {
        let mut reply = Reply::new(ResponseCode::NoError);
        match q.qtype {
            RecordType::SOA => {
                reply.answers.extend(records::soa(s, domain));
                let (ns, glue) = self.nameservers(s, domain);
                reply.authority = ns;
                reply.additional = glue;
            }
            RecordType::NS => {
                let (ns, glue) = self.nameservers(s, domain);
                reply.answers = ns;
                reply.additional = glue;
            }
            RecordType::AXFR => reply.rcode = ResponseCode::NotImp,
            _ => {
                let lookup = name::parse(&q.labels[..prefix], q.qtype == RecordType::SRV);
                let result = self
                    .dispatch(s, q, domain, &lookup, &mut reply, MAX_RECURSION_LEVEL)
                    .await;
                match result {
                    Ok(()) => {}
                    Err(Fail::NoData) => reply.authority.extend(records::soa(s, domain)),
                    Err(Fail::NameError) => {
                        reply.rcode = ResponseCode::NXDomain;
                        reply.authority.extend(records::soa(s, domain));
                    }
                    Err(Fail::Unavailable) => reply.rcode = ResponseCode::ServFail,
                }
            }
        }
        reply
    }

    /// Resolves one in-domain lookup into `reply`.
    pub(crate) fn dispatch<'a>(
        &'a self,
        s: &'a Settings,
        q: &'a Question<'a>,
        domain: &'a str,
        lookup: &'a Lookup,
        reply: &'a mut Reply,
        level: u8,
    ) -> BoxFuture<'a, Result<(), Fail>> {
        Box::pin(async move {
            match lookup {
                Lookup::Service {
                    kind,
                    name,
                    tag,
                    dc,
                } => {
                    let dc = dc.as_deref().unwrap_or(&s.datacenter);
                    self.service_lookup(s, q, domain, *kind, name, tag.as_deref(), dc, reply, level)
                        .await
                }
                Lookup::Node { name, dc } => {
                    let dc = dc.as_deref().unwrap_or(&s.datacenter);
                    self.node_lookup(s, q, dc, name, reply, level).await
                }
                Lookup::PreparedQuery { name, dc } => {
                    let dc = dc.as_deref().unwrap_or(&s.datacenter);
                    self.prepared_query(s, q, domain, dc, name, reply, level)
                        .await
                }
                Lookup::Addr(ip) => {
                    let ip = match ip {
                        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(*ip, IpAddr::V4),
                        v4 => *v4,
                    };
                    let data = match ip {
                        IpAddr::V4(v4) => RData::A(hickory_proto::rr::rdata::A(v4)),
                        IpAddr::V6(v6) => RData::AAAA(hickory_proto::rr::rdata::AAAA(v6)),
                    };
                    let wanted = matches!(
                        (ip, q.qtype),
                        (IpAddr::V4(_), RecordType::A | RecordType::ANY)
                            | (IpAddr::V6(_), RecordType::AAAA | RecordType::ANY)
                    );
                    let rec = records::record(q.name.clone(), s.node_ttl, data);
                    // Consul puts a record of the other type in the additional section.
                    if wanted {
                        reply.answers.push(rec);
                    } else {
                        reply.additional.push(rec);
                    }
                    Ok(())
                }
                Lookup::Virtual { name } => {
                    let ip = self.backend.virtual_ip(name)?.ok_or(Fail::NameError)?;
                    let data = records::address_rdata(q.qtype, ip).ok_or(Fail::NoData)?;
                    reply
                        .answers
                        .push(records::record(q.name.clone(), s.node_ttl, data));
                    Ok(())
                }
                Lookup::Invalid => {
                    debug!(name = %q.name, "DNS name invalid");
                    Err(Fail::NameError)
                }
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    /// A node's A/AAAA records for `owner`, or a CNAME plus what it resolves to when the
    /// node's address is a hostname.
    pub(crate) async fn node_records(
        &self,
        s: &Settings,
        q: &Question<'_>,
        node: &Node,
        dc: &str,
        owner: &Name,
        ttl: u32,
        level: u8,
    ) -> Vec<Record> {
        let node_dc = if node.datacenter.is_empty() {
            dc
        } else {
            &node.datacenter
        };
        let accept = Accept::for_qtype(q.qtype);
        let addr = records::node_address(s, node_dc, &node.address, &node.tagged_addresses, accept);
        if addr.is_empty() {
            return Vec::new();
        }
        if let Some(ip) = records::parse_ip(addr) {
            return records::address_rdata(q.qtype, ip)
                .map(|data| vec![records::record(owner.clone(), ttl, data)])
                .unwrap_or_default();
        }
        let Some(target) = records::name(addr) else {
            return Vec::new();
        };
        let mut out = vec![records::cname(owner.clone(), ttl, target.clone())];
        out.extend(self.resolve_cname(s, q, &target, level).await);
        out
    }

    /// Resolves a hostname found in the catalog: inside our domain by a nested lookup (at
    /// most `level` deep), elsewhere through the recursors (A records).
    pub(crate) async fn resolve_cname(
        &self,
        s: &Settings,
        q: &Question<'_>,
        target: &Name,
        level: u8,
    ) -> Vec<Record> {
        let labels: Vec<String> = target
            .iter()
            .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
            .collect();
        match name::classify(&labels, s) {
            Zone::Domain { alt, prefix } if prefix > 0 => {
                if level < 1 {
                    warn!(name = %target, "infinite recursion detected, not resolving CNAME");
                    return Vec::new();
                }
                let domain = match (alt, &s.alt_domain) {
                    (true, Some(alt)) => alt.as_str(),
                    _ => s.domain.as_str(),
                };
                let lookup = name::parse(&labels[..prefix], false);
                let inner = Question {
                    name: target,
                    labels: &labels,
                    qtype: RecordType::ANY,
                    transport: q.transport,
                    src: q.src,
                };
                let mut sub = Reply::new(ResponseCode::NoError);
                let _ = self
                    .dispatch(s, &inner, domain, &lookup, &mut sub, level - 1)
                    .await;
                sub.answers
            }
            _ if s.can_recurse() => recursor::lookup_a(s, target).await,
            _ => Vec::new(),
        }
    }

    async fn node_lookup(
        &self,
        s: &Settings,
        q: &Question<'_>,
        dc: &str,
        node_name: &str,
        reply: &mut Reply,
        level: u8,
    ) -> Result<(), Fail> {
        let node = self.backend.node(dc, node_name)?.ok_or(Fail::NameError)?;
        let qtype = q.qtype;
        if !matches!(
            qtype,
            RecordType::ANY | RecordType::A | RecordType::AAAA | RecordType::TXT
        ) {
            return Err(Fail::NoData);
        }
        if qtype != RecordType::TXT {
            let recs = self
                .node_records(s, q, &node, dc, q.name, s.node_ttl, level)
                .await;
            reply.answers.extend(recs);
        }
        let meta_in_answer = matches!(qtype, RecordType::TXT | RecordType::ANY);
        if s.node_meta_txt || meta_in_answer {
            let metas = records::meta_txt(q.name, &node.meta, s.node_ttl);
            if meta_in_answer {
                reply.answers.extend(metas);
            } else {
                reply.additional.extend(metas);
            }
        }
        if reply.answers.is_empty() {
            return Err(Fail::NoData);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn prepared_query(
        &self,
        s: &Settings,
        q: &Question<'_>,
        domain: &str,
        dc: &str,
        query: &str,
        reply: &mut Reply,
        level: u8,
    ) -> Result<(), Fail> {
        reply.ecs_global = false;
        let ecs_source = q.src;
        let answer = self
            .backend
            .prepared_query(dc, query, ecs_source)?
            .ok_or(Fail::NameError)?;
        if answer.instances.is_empty() {
            return Err(Fail::NameError);
        }
        let ttl = match answer.ttl {
            Some(ttl) => u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX),
            None => s.service_ttl(&answer.service),
        };
        let order: Vec<u32> = (0..answer.instances.len() as u32).collect();
        self.render_instances(
            s,
            q,
            domain,
            &answer.datacenter,
            &answer.instances,
            &order,
            ttl,
            reply,
            level,
        )
        .await;
        if reply.answers.is_empty() {
            return Err(Fail::NoData);
        }
        Ok(())
    }

    /// SOA/NS support: up to three healthy, randomly chosen `consul` servers of the local
    /// datacenter as NS records for `domain`, with their addresses as glue.
    fn nameservers(&self, s: &Settings, domain: &str) -> (Vec<Record>, Vec<Record>) {
        let servers =
            match self
                .backend
                .service_instances(&s.datacenter, "consul", ServiceKind::Service)
            {
                Ok(servers) => servers,
                Err(error) => {
                    warn!(%error, "unable to get list of servers");
                    return (Vec::new(), Vec::new());
                }
            };
        let mut order: Vec<usize> = (0..servers.len())
            .filter(|i| healthy(servers[*i].status, s.only_passing))
            .collect();
        rng::shuffle(&mut order);
        let Some(zone) = records::name(domain) else {
            return (Vec::new(), Vec::new());
        };
        let (mut ns, mut glue) = (Vec::new(), Vec::new());
        for i in order {
            let node = &servers[i].node;
            let valid = !node.node.is_empty()
                && node
                    .node
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                warn!(node = %node.node, "skipping invalid node for NS records");
                continue;
            }
            let dc = if node.datacenter.is_empty() {
                &s.datacenter
            } else {
                &node.datacenter
            };
            let fqdn = format!("{}.node.{dc}.{domain}", node.node).to_ascii_lowercase();
            let Some(target) = records::name(&fqdn) else {
                continue;
            };
            let accept = Accept::for_qtype(RecordType::ANY);
            let addr = records::node_address(s, dc, &node.address, &node.tagged_addresses, accept);
            if let Some(data) =
                records::parse_ip(addr).and_then(|ip| records::address_rdata(RecordType::ANY, ip))
            {
                glue.push(records::record(target.clone(), s.node_ttl, data));
            }
            ns.push(records::record(
                zone.clone(),
                s.node_ttl,
                RData::NS(NS(target)),
            ));
            if ns.len() >= 3 {
                break;
            }
        }
        (ns, glue)
    }

    /// Reverse lookup: a node address first, then a service address; `None` if neither.
    fn ptr(&self, s: &Settings, q: &Question<'_>) -> Option<Reply> {
        let ip = name::ip_from_arpa(q.labels)?;
        let target = match self.backend.node_by_address(ip) {
            Ok(Some(node)) => records::node_fqdn(&node.name, &node.datacenter, &s.domain),
            _ => match self.backend.service_by_address(ip) {
                Ok(Some(svc)) => records::name(&format!(
                    "{}.service.{}.{}",
                    svc.name, svc.datacenter, s.domain
                )),
                _ => None,
            },
        }?;
        let mut reply = Reply::new(ResponseCode::NoError);
        reply
            .answers
            .push(records::record(q.name.clone(), 0, RData::PTR(PTR(target))));
        Some(reply)
    }
}
