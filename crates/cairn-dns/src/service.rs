//! Service lookups: health and tag filtering, shuffling, and the A/AAAA/CNAME or SRV records
//! of each instance (Consul's `addServiceNodeRecordsToMessage`,
//! `addServiceSRVRecordsToMessage` and `makeNodeServiceRecords`).

use crate::answer::{healthy, Answerer, Fail, Question, Reply};
use crate::backend::{DnsBackend, ServiceInstance, ServiceKind};
use crate::config::Settings;
use crate::name::encode_hex_ip;
use crate::records::{self, Accept};
use crate::rng;
use crate::trim::answer_cap;
use cairn_types::CheckStatus;
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{RData, Record, RecordType};
use std::net::IpAddr;

/// Extra records kept per hostname resolution for non-EDNS clients.
const MAX_RECURSE_RECORDS: usize = 5;

/// Where an SRV answer points.
enum Target {
    /// `<node>.node.<dc>.<domain>`: no service address and the node address is an IP.
    Node,
    /// `<hex>.addr.<dc>.<domain>`: the service address (or a translated node address).
    Addr,
}

fn tag_matches(inst: &ServiceInstance, tag: Option<&str>) -> bool {
    match tag {
        None => true,
        Some(tag) => inst
            .service
            .tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tag)),
    }
}

/// SRV weight by the instance's aggregated state.
fn weight(inst: &ServiceInstance) -> u16 {
    let w = match inst.status {
        CheckStatus::Passing => inst.service.weights.passing,
        CheckStatus::Warning => inst.service.weights.warning,
        CheckStatus::Critical | CheckStatus::Maintenance => 0,
    };
    u16::try_from(w).unwrap_or(u16::MAX)
}

impl<B: DnsBackend> Answerer<B> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn service_lookup(
        &self,
        s: &Settings,
        q: &Question<'_>,
        domain: &str,
        kind: ServiceKind,
        service: &str,
        tag: Option<&str>,
        dc: &str,
        reply: &mut Reply,
        level: u8,
    ) -> Result<(), Fail> {
        let instances = self.backend.service_instances(dc, service, kind)?;
        let mut order: Vec<u32> = instances
            .iter()
            .enumerate()
            .filter(|(_, inst)| healthy(inst.status, s.only_passing) && tag_matches(inst, tag))
            .map(|(i, _)| i as u32)
            .collect();
        if order.is_empty() {
            return Err(Fail::NameError);
        }
        // Only the first answers survive a small UDP response; shuffling those positions is
        // enough (duplicates may need a few more, so leave a margin).
        match answer_cap(q.transport, s.udp_answer_limit) {
            Some(cap) => rng::shuffle_prefix(&mut order, cap.saturating_mul(4).max(16)),
            None => rng::shuffle(&mut order),
        }
        let ttl = s.service_ttl(service);
        self.render_instances(s, q, domain, dc, &instances, &order, ttl, reply, level)
            .await;
        if reply.answers.is_empty() {
            return Err(Fail::NoData);
        }
        Ok(())
    }

    /// Appends the records of `instances[order…]` for the question's type.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn render_instances(
        &self,
        s: &Settings,
        q: &Question<'_>,
        domain: &str,
        dc: &str,
        instances: &[ServiceInstance],
        order: &[u32],
        ttl: u32,
        reply: &mut Reply,
        level: u8,
    ) {
        let cap = answer_cap(q.transport, s.udp_answer_limit);
        if q.qtype == RecordType::SRV {
            let mut seen: Vec<(&str, &str, u16)> = Vec::new();
            for &i in order {
                if cap.is_some_and(|cap| reply.answers.len() >= cap) {
                    reply.built_all = false;
                    break;
                }
                let inst = &instances[i as usize];
                let accept = Accept::for_qtype(RecordType::ANY);
                let svc = &inst.service;
                let addr =
                    records::service_address(s, dc, &svc.address, &svc.tagged_addresses, accept);
                let port = records::service_port(s, dc, svc.port, &svc.tagged_addresses);
                let key = (inst.node.node.as_str(), addr, port);
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                let (answers, extra) = self
                    .instance_records(s, q, domain, dc, inst, ttl, level)
                    .await;
                reply.answers.extend(answers);
                reply.additional.extend(extra);
                if s.node_meta_txt && !inst.node.meta.is_empty() {
                    if let Some(owner) = records::node_fqdn(&inst.node.node, dc, domain) {
                        reply
                            .additional
                            .extend(records::meta_txt(&owner, &inst.node.meta, ttl));
                    }
                }
            }
            return;
        }

        let mut seen: Vec<RData> = Vec::new();
        let mut cname_answer: Option<Vec<Record>> = None;
        let mut count = 0usize;
        for &i in order {
            if cap.is_some_and(|cap| count >= cap) {
                reply.built_all = false;
                break;
            }
            let inst = &instances[i as usize];
            let (recs, _) = self
                .instance_records(s, q, domain, dc, inst, ttl, level)
                .await;
            let Some(first) = recs.first() else {
                continue;
            };
            // Several instances on one address give one record.
            if seen.contains(&first.data) {
                continue;
            }
            seen.push(first.data.clone());
            if matches!(first.data, RData::CNAME(_)) {
                // Only used when no instance has an address record.
                cname_answer.get_or_insert(recs);
                continue;
            }
            reply.answers.extend(recs);
            count += 1;
            if count == s.a_record_limit {
                return;
            }
        }
        if reply.answers.is_empty() {
            if let Some(recs) = cname_answer {
                reply.answers = recs;
            }
        }
    }

    /// Answer and additional records of one instance (Consul's `makeNodeServiceRecords`).
    #[allow(clippy::too_many_arguments)]
    async fn instance_records(
        &self,
        s: &Settings,
        q: &Question<'_>,
        domain: &str,
        dc: &str,
        inst: &ServiceInstance,
        ttl: u32,
        level: u8,
    ) -> (Vec<Record>, Vec<Record>) {
        let accept = Accept::for_qtype(q.qtype);
        let svc = &inst.service;
        let node = &inst.node;
        let node_dc = if node.datacenter.is_empty() {
            dc
        } else {
            &node.datacenter
        };
        let svc_addr = records::service_address(s, dc, &svc.address, &svc.tagged_addresses, accept);
        let node_addr =
            records::node_address(s, node_dc, &node.address, &node.tagged_addresses, accept);
        if svc_addr.is_empty() && node_addr.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let node_ip = records::parse_ip(node_addr);
        if svc_addr.is_empty() {
            return match node_ip {
                // A translated (WAN or tagged) node address is not CNAMEd to the node name.
                Some(ip) if node.address != node_addr => {
                    self.ip_records(s, q, domain, dc, inst, ip, Target::Addr, ttl)
                }
                Some(ip) => self.ip_records(s, q, domain, dc, inst, ip, Target::Node, ttl),
                None => {
                    self.fqdn_records(s, q, dc, inst, node_addr, ttl, level)
                        .await
                }
            };
        }
        if let Some(ip) = records::parse_ip(svc_addr) {
            return self.ip_records(s, q, domain, dc, inst, ip, Target::Addr, ttl);
        }
        // A service address naming the queried service itself points at the node.
        let names_question = records::name(svc_addr).is_some_and(|n| n.eq_ignore_root(q.name));
        if let (true, Some(ip)) = (names_question, node_ip) {
            return self.ip_records(s, q, domain, dc, inst, ip, Target::Node, ttl);
        }
        self.fqdn_records(s, q, dc, inst, svc_addr, ttl, level)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    fn ip_records(
        &self,
        s: &Settings,
        q: &Question<'_>,
        domain: &str,
        dc: &str,
        inst: &ServiceInstance,
        ip: IpAddr,
        target: Target,
        ttl: u32,
    ) -> (Vec<Record>, Vec<Record>) {
        let Some(data) = records::address_rdata(q.qtype, ip) else {
            return (Vec::new(), Vec::new());
        };
        if q.qtype != RecordType::SRV {
            return (vec![records::record(q.name.clone(), ttl, data)], Vec::new());
        }
        let target = match target {
            Target::Node => records::node_fqdn(&inst.node.node, dc, domain),
            Target::Addr => records::name(&format!("{}.addr.{dc}.{domain}", encode_hex_ip(ip))),
        };
        let Some(target) = target else {
            return (Vec::new(), Vec::new());
        };
        let svc = &inst.service;
        let port = records::service_port(s, dc, svc.port, &svc.tagged_addresses);
        let srv = SRV::new(1, weight(inst), port, target.clone());
        (
            vec![records::record(q.name.clone(), ttl, RData::SRV(srv))],
            vec![records::record(target, ttl, data)],
        )
    }

    /// Records for an instance whose address is a hostname: SRV to it with its resolution
    /// as extras, or a CNAME followed by the resolution.
    #[allow(clippy::too_many_arguments)]
    async fn fqdn_records(
        &self,
        s: &Settings,
        q: &Question<'_>,
        dc: &str,
        inst: &ServiceInstance,
        host: &str,
        ttl: u32,
        level: u8,
    ) -> (Vec<Record>, Vec<Record>) {
        let Some(target) = records::name(host) else {
            return (Vec::new(), Vec::new());
        };
        let resolved = self.resolve_cname(s, q, &target, level).await;
        let limit = if q.edns() {
            usize::MAX
        } else {
            MAX_RECURSE_RECORDS
        };
        let extra: Vec<Record> = resolved
            .into_iter()
            .filter(|r| {
                matches!(
                    r.record_type(),
                    RecordType::CNAME | RecordType::A | RecordType::AAAA
                )
            })
            .map(|mut r| {
                r.ttl = ttl;
                r
            })
            .take(limit)
            .collect();
        if q.qtype == RecordType::SRV {
            let svc = &inst.service;
            let port = records::service_port(s, dc, svc.port, &svc.tagged_addresses);
            let srv = SRV::new(1, weight(inst), port, target);
            return (
                vec![records::record(q.name.clone(), ttl, RData::SRV(srv))],
                extra,
            );
        }
        let mut answers = vec![records::cname(q.name.clone(), ttl, target)];
        answers.extend(extra);
        (answers, Vec::new())
    }
}
