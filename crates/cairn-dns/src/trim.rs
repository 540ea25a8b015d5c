//! Fitting answers into UDP and TCP messages the way Consul's `trimUDPResponse` and
//! `trimTCPResponse` do: an answer-count cap for non-EDNS UDP, then dropping the authority
//! section and trailing answers (binary search when far over) until the message fits, with
//! the additional section kept in step with the remaining SRV targets.

use crate::config::MAX_UDP_ANSWER_LIMIT;
use hickory_proto::op::Query;
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use std::collections::{HashMap, HashSet};

/// Largest UDP payload Consul will fill (65535 minus IP and UDP headers).
const MAX_UDP_DATAGRAM: usize = 65535 - 68;
/// Largest TCP message Consul will fill.
const MAX_TCP_SIZE: usize = 65523;

/// The sections of a response being sized.
pub(crate) struct Sections<'a> {
    pub query: &'a Query,
    pub answers: &'a mut Vec<Record>,
    pub authority: &'a mut Vec<Record>,
    pub additional: &'a mut Vec<Record>,
    /// Wire size of the OPT record that will be appended, 0 without EDNS.
    pub opt_len: usize,
}

/// How a response travels.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Transport {
    /// UDP; `edns_size` is the client's advertised payload size, if it sent EDNS.
    Udp { edns_size: Option<u16> },
    /// TCP.
    Tcp,
}

/// The largest number of answers worth building for this transport, or `None` for all.
/// Building more would only have them cut again (non-EDNS UDP keeps at most
/// `udp_answer_limit` answers).
pub(crate) fn answer_cap(transport: Transport, udp_answer_limit: usize) -> Option<usize> {
    match transport {
        Transport::Udp { edns_size } if edns_size.is_none_or(|s| s <= 512) => {
            Some(udp_answer_limit.min(MAX_UDP_ANSWER_LIMIT))
        }
        _ => None,
    }
}

/// Wire length of the message, compressed or not; `usize::MAX` if it cannot be encoded.
fn wire_len(sec: &Sections<'_>, compress: bool) -> usize {
    let mut buf = Vec::with_capacity(1024);
    let mut enc = BinEncoder::new(&mut buf);
    if !compress {
        enc.set_name_encoding(NameEncoding::Uncompressed);
    }
    let ok = enc.emit_vec(&[0u8; 12]).is_ok()
        && sec.query.emit(&mut enc).is_ok()
        && sec
            .answers
            .iter()
            .chain(sec.authority.iter())
            .chain(sec.additional.iter())
            .all(|r| r.emit(&mut enc).is_ok());
    if ok {
        buf.len() + sec.opt_len
    } else {
        usize::MAX
    }
}

fn name_len(name: &Name) -> usize {
    name.iter().map(|l| l.len() + 1).sum::<usize>() + 1
}

fn rdata_len(data: &RData) -> Option<usize> {
    Some(match data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::SRV(srv) => 6 + name_len(&srv.target),
        RData::CNAME(n) => name_len(&n.0),
        RData::NS(n) => name_len(&n.0),
        RData::PTR(n) => name_len(&n.0),
        RData::TXT(t) => t.txt_data.iter().map(|s| s.len() + 1).sum(),
        RData::SOA(soa) => name_len(&soa.mname) + name_len(&soa.rname) + 20,
        _ => return None,
    })
}

/// The uncompressed size computed without encoding: an upper bound of the wire size, or
/// `None` for record types it does not know.
fn uncompressed_len(sec: &Sections<'_>) -> Option<usize> {
    let mut len = 12 + name_len(sec.query.name()) + 4 + sec.opt_len;
    for r in sec
        .answers
        .iter()
        .chain(sec.authority.iter())
        .chain(sec.additional.iter())
    {
        len += name_len(&r.name) + 10 + rdata_len(&r.data)?;
    }
    Some(len)
}

/// Whether the message fits in `max` bytes, encoding it only when the cheap bound is over.
fn fits(sec: &Sections<'_>, max: usize, compress: bool) -> bool {
    match uncompressed_len(sec) {
        Some(len) if len <= max => true,
        Some(_) if !compress => false,
        _ => wire_len(sec, compress) <= max,
    }
}

/// First additional record per lower-case owner name (Consul indexes extras this way).
type ExtraIndex = HashMap<String, Record>;

fn index_extras(extra: &[Record]) -> ExtraIndex {
    let mut index = HashMap::with_capacity(extra.len());
    for r in extra {
        index
            .entry(r.name.to_ascii().to_ascii_lowercase())
            .or_insert_with(|| r.clone());
    }
    index
}

/// The extras covering the SRV targets among `answers`, following CNAME chains.
fn synced_extras(index: &ExtraIndex, answers: &[Record]) -> Vec<Record> {
    let mut extra = Vec::with_capacity(answers.len());
    let mut resolved = HashSet::with_capacity(answers.len());
    for answer in answers {
        let RData::SRV(srv) = &answer.data else {
            continue;
        };
        let mut target = srv.target.to_ascii().to_ascii_lowercase();
        while resolved.insert(target.clone()) {
            let Some(rr) = index.get(&target) else {
                break;
            };
            extra.push(rr.clone());
            match &rr.data {
                RData::CNAME(c) => target = c.0.to_ascii().to_ascii_lowercase(),
                _ => break,
            }
        }
    }
    extra
}

/// Consul's `dnsBinaryTruncate`: the largest answer count that fits, found by bisection.
fn binary_truncate(sec: &mut Sections<'_>, max: usize, index: Option<&ExtraIndex>) -> usize {
    let all = std::mem::take(sec.answers);
    let (mut start, mut end) = (0usize, all.len() + 1);
    let mut best = None;
    while end - start > 1 {
        let median = start + (end - start) / 2;
        *sec.answers = all[..median].to_vec();
        if let Some(index) = index {
            *sec.additional = synced_extras(index, sec.answers);
        }
        let len = wire_len(sec, true);
        if len <= max {
            if max - len < 10 {
                best = Some(median);
                break;
            }
            start = median;
        } else {
            end = median;
        }
    }
    *sec.answers = all;
    best.unwrap_or(start)
}

/// Shrinks `sec` until it fits; returns whether answers were dropped.
fn shrink(sec: &mut Sections<'_>, max: usize, compress: bool, index: Option<&ExtraIndex>) -> bool {
    let mut trimmed = false;
    while sec.answers.len() > 1 {
        if fits(sec, max, compress) {
            break;
        }
        trimmed = true;
        sec.authority.clear();
        let len = wire_len(sec, compress);
        if len <= max {
            break;
        }
        if len.saturating_sub(max) > 100 {
            let best = binary_truncate(sec, max, index);
            sec.answers.truncate(best.max(1));
        } else {
            sec.answers.pop();
        }
        if let Some(index) = index {
            *sec.additional = synced_extras(index, sec.answers);
        }
    }
    trimmed
}

/// Trims a response as Consul does; returns whether answers were dropped (TC when
/// `enable_truncate`). `built_all` is false when answer building stopped at
/// [`answer_cap`], which counts as trimmed.
pub(crate) fn trim(
    sec: &mut Sections<'_>,
    transport: Transport,
    udp_answer_limit: usize,
    is_srv: bool,
    built_all: bool,
) -> bool {
    let original = sec.answers.len();
    // Most answers fit as built; skip the bookkeeping then.
    let small_udp =
        matches!(transport, Transport::Udp { edns_size } if edns_size.is_none_or(|s| s <= 512));
    let over_count = small_udp && original > udp_answer_limit.min(MAX_UDP_ANSWER_LIMIT);
    if original <= 1 || (!over_count && uncompressed_len(sec).is_some_and(|len| len <= 512 - 8)) {
        return !built_all;
    }
    let index = (!sec.additional.is_empty()).then(|| index_extras(sec.additional));
    match transport {
        Transport::Tcp => {
            let cap = if is_srv { 1024 } else { 4096 };
            sec.answers.truncate(cap);
            if let Some(index) = &index {
                if sec.answers.len() < original {
                    *sec.additional = synced_extras(index, sec.answers);
                }
            }
            let trimmed = shrink(sec, MAX_TCP_SIZE, true, index.as_ref());
            trimmed || !built_all
        }
        Transport::Udp { edns_size } => {
            let max = edns_size
                .map_or(512, |s| (s as usize).max(512))
                .min(MAX_UDP_DATAGRAM);
            let max_answers = udp_answer_limit.min(MAX_UDP_ANSWER_LIMIT);
            let mut compress = true;
            if max == 512 && sec.answers.len() > max_answers {
                // Non-EDNS answers are sized uncompressed, then sent compressed.
                compress = false;
                sec.answers.truncate(max_answers);
                if let Some(index) = &index {
                    *sec.additional = synced_extras(index, sec.answers);
                }
            }
            shrink(sec, max - 8, compress, index.as_ref());
            sec.answers.len() < original || !built_all
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, SRV};
    use hickory_proto::rr::{Name, RecordType};
    use std::net::Ipv4Addr;

    fn a_records(n: usize) -> Vec<Record> {
        let name = Name::from_ascii("web.service.consul.").unwrap();
        (0..n)
            .map(|i| {
                Record::from_rdata(
                    name.clone(),
                    0,
                    RData::A(A(Ipv4Addr::new(10, 0, (i / 256) as u8, (i % 256) as u8))),
                )
            })
            .collect()
    }

    fn srv_records(n: usize) -> (Vec<Record>, Vec<Record>) {
        let name = Name::from_ascii("web.service.consul.").unwrap();
        let mut answers = Vec::new();
        let mut extra = Vec::new();
        for i in 0..n {
            let target = Name::from_ascii(format!("node-{i}.node.dc1.consul.")).unwrap();
            answers.push(Record::from_rdata(
                name.clone(),
                0,
                RData::SRV(SRV::new(1, 1, 8080, target.clone())),
            ));
            extra.push(Record::from_rdata(
                target,
                0,
                RData::A(A(Ipv4Addr::new(10, 0, 0, i as u8))),
            ));
        }
        (answers, extra)
    }

    fn query(t: RecordType) -> Query {
        Query::query(Name::from_ascii("web.service.consul.").unwrap(), t)
    }

    #[test]
    fn non_edns_udp_is_capped_at_the_answer_limit() {
        let q = query(RecordType::A);
        let (mut ans, mut auth, mut add) = (a_records(20), vec![], vec![]);
        let mut sec = Sections {
            query: &q,
            answers: &mut ans,
            authority: &mut auth,
            additional: &mut add,
            opt_len: 0,
        };
        assert!(trim(
            &mut sec,
            Transport::Udp { edns_size: None },
            3,
            false,
            true
        ));
        assert_eq!(ans.len(), 3);
    }

    #[test]
    fn edns_udp_fills_the_buffer_and_srv_extras_follow() {
        let q = query(RecordType::SRV);
        let (mut ans, mut add) = srv_records(200);
        let mut auth = vec![];
        let mut sec = Sections {
            query: &q,
            answers: &mut ans,
            authority: &mut auth,
            additional: &mut add,
            opt_len: 11,
        };
        let t = Transport::Udp {
            edns_size: Some(4096),
        };
        assert!(trim(&mut sec, t, 3, true, true));
        let len = wire_len(&sec, true);
        assert!(len <= 4096 - 8, "{len}");
        assert!(ans.len() > 20, "only {} answers", ans.len());
        assert_eq!(add.len(), ans.len());
        for (a, x) in ans.iter().zip(add.iter()) {
            let RData::SRV(srv) = &a.data else { panic!() };
            assert_eq!(srv.target, x.name);
        }
    }

    #[test]
    fn tcp_keeps_everything_that_fits() {
        let q = query(RecordType::SRV);
        let (mut ans, mut add) = srv_records(200);
        let mut auth = vec![];
        let mut sec = Sections {
            query: &q,
            answers: &mut ans,
            authority: &mut auth,
            additional: &mut add,
            opt_len: 0,
        };
        assert!(!trim(&mut sec, Transport::Tcp, 3, true, true));
        assert_eq!(ans.len(), 200);
        assert_eq!(add.len(), 200);
    }

    #[test]
    fn answer_cap_only_for_small_udp() {
        assert_eq!(answer_cap(Transport::Udp { edns_size: None }, 3), Some(3));
        assert_eq!(
            answer_cap(
                Transport::Udp {
                    edns_size: Some(512)
                },
                20
            ),
            Some(8)
        );
        assert_eq!(
            answer_cap(
                Transport::Udp {
                    edns_size: Some(1232)
                },
                3
            ),
            None
        );
        assert_eq!(answer_cap(Transport::Tcp, 3), None);
    }
}
