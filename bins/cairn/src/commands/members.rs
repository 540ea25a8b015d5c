//! `cairn members`.

use super::{block_on, connect};
use crate::cli::format::columnize;
use crate::cli::{parse, HttpFlags, Ui};
use cairn_types::Member;
use clap::{ArgAction, Parser};
use std::net::IpAddr;

/// Help of `cairn members`.
pub const HELP: &str = r#"
Usage: cairn members [options]

  Lists the members of the gossip pool the agent belongs to.
"#;

/// Arguments of `cairn members`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct MembersArgs {
    #[command(flatten)]
    http: HttpFlags,
    /// Print every tag of each member.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    detailed: bool,
    /// Filter expression sent with the request.
    #[arg(long, value_name = "string", default_value = "")]
    filter: String,
    /// (Enterprise-only) Admin partition to list.
    #[arg(long, value_name = "default", default_value = "")]
    partition: String,
    /// (Enterprise-only) Only members of this network segment.
    #[arg(long, value_name = "string", default_value = "_all")]
    segment: String,
    /// Only members whose status matches this regular expression.
    #[arg(long, value_name = "string", default_value = ".*")]
    status: String,
    /// List the WAN pool (servers only) instead of the LAN pool.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    wan: bool,
    #[arg(hide = true)]
    args: Vec<String>,
}

/// `cairn members`.
pub fn run(args: &[String], ui: &Ui) -> i32 {
    let Ok(a) = parse::<MembersArgs>("members", HELP, args, ui) else {
        return 1;
    };
    let status_re = match regex::Regex::new(&a.status) {
        Ok(re) => re,
        Err(e) => {
            ui.error(&format!("Failed to compile status regexp: {e}"));
            return 1;
        }
    };
    let Ok(client) = connect(&a.http, None, ui) else {
        return 1;
    };
    block_on(async move {
        let members = match client.agent().members(a.wan).await {
            Ok(m) => m,
            Err(e) => {
                ui.error(&format!("Error retrieving members: {e}"));
                return 1;
            }
        };
        let members = prepare(members, &status_re);
        if members.is_empty() {
            return 2;
        }
        ui.output(&if a.detailed {
            detailed_table(&members)
        } else {
            standard_table(&members)
        });
        0
    })
}

fn is_default_partition(p: &str) -> bool {
    p.is_empty() || p == "default"
}

/// Apply Consul's tag defaults (`ap`, `segment`), drop members whose status does not match,
/// and sort: servers first, then the default partition, then by segment, partition and name.
pub fn prepare(members: Vec<Member>, status: &regex::Regex) -> Vec<Member> {
    let mut kept: Vec<Member> = members
        .into_iter()
        .map(|mut m| {
            if m.tags.get("ap").is_none_or(|p| p.is_empty()) {
                m.tags.insert("ap".into(), "default".into());
            }
            let partition = m.tags.get("ap").cloned().unwrap_or_default();
            if is_default_partition(&partition) {
                if m.tags.get("role").map(String::as_str) == Some("consul") {
                    m.tags.insert("segment".into(), "<all>".into());
                } else if m.tags.get("segment").is_none_or(|s| s.is_empty()) {
                    m.tags.insert("segment".into(), "<default>".into());
                }
            } else {
                m.tags.insert("segment".into(), String::new());
            }
            m
        })
        .filter(|m| status.is_match(m.status.as_str()))
        .collect();
    let key = |m: &Member| {
        let tag = |k: &str| m.tags.get(k).cloned().unwrap_or_default();
        (
            tag("role") != "consul",
            !is_default_partition(&tag("ap")),
            tag("segment"),
            tag("ap"),
            m.name.clone(),
        )
    };
    kept.sort_by_key(key);
    kept
}

/// `ip:port` as Go's `net.TCPAddr` prints it (`[v6]:port`; `:port` for an unparsable IP).
fn tcp_addr(addr: &str, port: u16) -> String {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => format!("{ip}:{port}"),
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{port}"),
            None => format!("[{ip}]:{port}"),
        },
        Err(_) => format!(":{port}"),
    }
}

/// The default `members` table.
pub fn standard_table(members: &[Member]) -> String {
    let mut rows = vec![[
        "Node",
        "Address",
        "Status",
        "Type",
        "Build",
        "Protocol",
        "DC",
        "Partition",
        "Segment",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for m in members {
        let tag = |k: &str| m.tags.get(k).cloned().unwrap_or_default();
        let addr = tcp_addr(&m.addr, m.port);
        let status = m.status.as_str().to_string();
        let build = match m.tags.get("build") {
            None => "< 0.3".to_string(),
            Some(b) if b.is_empty() => "< 0.3".to_string(),
            Some(b) => b.split(':').next().unwrap_or_default().to_string(),
        };
        let kind = match tag("role").as_str() {
            "node" => "client",
            "consul" => "server",
            _ => {
                rows.push(vec![
                    m.name.clone(),
                    addr,
                    status,
                    "unknown".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
                continue;
            }
        };
        rows.push(vec![
            m.name.clone(),
            addr,
            status,
            kind.to_string(),
            build,
            tag("vsn"),
            tag("dc"),
            tag("ap"),
            tag("segment"),
        ]);
    }
    columnize(&rows)
}

/// `members -detailed`: `Node Address Status Tags` with `k=v` tags sorted by key.
pub fn detailed_table(members: &[Member]) -> String {
    let mut rows = vec![vec![
        "Node".to_string(),
        "Address".to_string(),
        "Status".to_string(),
        "Tags".to_string(),
    ]];
    for m in members {
        let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rows.push(vec![
            m.name.clone(),
            tcp_addr(&m.addr, m.port),
            m.status.as_str().to_string(),
            tags.join(","),
        ]);
    }
    columnize(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_types::MemberStatus;

    fn member(name: &str, addr: &str, role: &str, status: MemberStatus) -> Member {
        let mut m = Member {
            name: name.into(),
            addr: addr.into(),
            port: 8301,
            status,
            ..Member::default()
        };
        for (k, v) in [
            ("role", role),
            ("dc", "dc1"),
            ("vsn", "2"),
            ("build", "1.20.0:abcdef"),
        ] {
            m.tags.insert(k.into(), v.into());
        }
        m
    }

    #[test]
    fn standard_table_matches_consul() {
        let all = regex::Regex::new(".*").unwrap();
        let members = prepare(
            vec![
                member("client1", "10.0.0.20", "node", MemberStatus::Alive),
                member("server1", "10.0.0.10", "consul", MemberStatus::Alive),
                member("server0", "::1", "consul", MemberStatus::Failed),
            ],
            &all,
        );
        assert_eq!(
            standard_table(&members),
            "Node     Address         Status  Type    Build   Protocol  DC   Partition  Segment\n\
             server0  [::1]:8301      failed  server  1.20.0  2         dc1  default    <all>\n\
             server1  10.0.0.10:8301  alive   server  1.20.0  2         dc1  default    <all>\n\
             client1  10.0.0.20:8301  alive   client  1.20.0  2         dc1  default    <default>"
        );
    }

    #[test]
    fn status_filter_and_unknown_role() {
        let alive = regex::Regex::new("alive").unwrap();
        let mut odd = member("odd", "10.0.0.5", "", MemberStatus::Alive);
        odd.tags.remove("build");
        let members = prepare(
            vec![odd, member("dead", "10.0.0.6", "node", MemberStatus::Left)],
            &alive,
        );
        assert_eq!(members.len(), 1);
        assert_eq!(
            standard_table(&members),
            format!("Node  Address        Status  Type     Build  Protocol  DC  Partition  Segment\nodd   10.0.0.5:8301  alive   unknown{}",
            " ".repeat(2 + 5 + 2 + 8 + 2 + 2 + 2 + 9 + 2))
        );
        assert!(prepare(members, &regex::Regex::new("failed").unwrap()).is_empty());
    }

    #[test]
    fn detailed_includes_defaulted_tags() {
        let all = regex::Regex::new(".*").unwrap();
        let members = prepare(
            vec![member("s1", "10.0.0.1", "consul", MemberStatus::Alive)],
            &all,
        );
        assert_eq!(
            detailed_table(&members),
            "Node  Address        Status  Tags\ns1    10.0.0.1:8301  alive   ap=default,build=1.20.0:abcdef,dc=dc1,role=consul,segment=<all>,vsn=2"
        );
    }
}
