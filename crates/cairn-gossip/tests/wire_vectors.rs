//! Decodes packets and streams captured with tcpdump between two real `serf agent`s (Debian
//! serf 0.9.4, `-profile=local`), see `tests/vectors/README.md`.

use std::fs;
use std::path::PathBuf;

use cairn_gossip::codec::msgpack::Encoder;
use cairn_gossip::serf::messages::*;
use cairn_gossip::wire::messages::*;
use cairn_gossip::wire::*;

fn vectors(dir: &str, kind: &str) -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(dir);
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().contains(kind))
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[derive(Default, Debug)]
struct Seen {
    alive: Vec<Alive>,
    pings: usize,
    acks: Vec<Ack>,
    user: Vec<Vec<u8>>,
    other: Vec<u8>,
}

/// Unwraps one packet the way memberlist's `ingestPacket`/`handleCommand` do.
fn walk(buf: &[u8], seen: &mut Seen) {
    let buf = strip_crc(buf).expect("crc");
    let (&t, body) = buf.split_first().unwrap();
    match MessageType::from_u8(t).unwrap() {
        MessageType::Compound => {
            let (parts, trunc) = split_compound(body).unwrap();
            assert_eq!(trunc, 0);
            for p in parts {
                walk(p, seen);
            }
        }
        MessageType::Compress => walk(&decompress_payload(body).unwrap(), seen),
        MessageType::Alive => {
            let a = Alive::decode_body(body).unwrap();
            // Our encoder writes the same bytes Go wrote.
            assert_eq!(a.encode(), buf, "alive re-encodes byte for byte");
            seen.alive.push(a);
        }
        MessageType::Ping => {
            let p = Ping::decode_body(body).unwrap();
            assert_eq!(p.encode(), buf, "ping re-encodes byte for byte");
            seen.pings += 1;
        }
        MessageType::Ack => {
            let a = Ack::decode_body(body).unwrap();
            assert_eq!(a.encode(), buf, "ack re-encodes byte for byte");
            seen.acks.push(a);
        }
        MessageType::User => seen.user.push(body.to_vec()),
        other => seen.other.push(other as u8),
    }
}

#[test]
fn udp_packets_from_serf_decode() {
    let mut seen = Seen::default();
    let packets = vectors("plain", "udp");
    assert!(packets.len() > 20);
    for (_, p) in &packets {
        walk(p, &mut seen);
    }
    assert!(seen.pings > 0 && !seen.acks.is_empty());
    let s1 = seen
        .alive
        .iter()
        .find(|a| a.node == "s1")
        .expect("alive s1");
    assert_eq!(s1.addr, [127, 0, 0, 1]);
    assert_eq!(s1.port, 17946);
    assert_eq!(s1.vsn, [1, 5, 2, 2, 5, 5]);
    assert_eq!(decode_tags(&s1.meta)["role"], "anchor");
    // Acks carry serf's Vivaldi coordinate: version byte 1 + msgpack struct with 8 dimensions.
    let ack = seen.acks.iter().find(|a| !a.payload.is_empty()).unwrap();
    assert_eq!(ack.payload[0], 1);
    let coord = cairn_gossip::codec::msgpack::decode(&ack.payload[1..]).unwrap();
    let s = coord.as_struct("coord").unwrap();
    assert_eq!(s.get("Vec").as_array("Vec").unwrap().len(), 8);
    // The user event fired with `serf event deploy v1` and the query `whoami`.
    let mut event = None;
    let mut query = None;
    for u in &seen.user {
        match SerfMessageType::from_u8(u[0]) {
            Some(SerfMessageType::UserEvent) => {
                let e = UserEventMsg::decode_body(&u[1..]).unwrap();
                assert_eq!(e.encode(), *u);
                event = Some(e);
            }
            Some(SerfMessageType::Query) => {
                let q = QueryMsg::decode_body(&u[1..]).unwrap();
                assert_eq!(q.encode(), *u, "query re-encodes byte for byte");
                query = Some(q);
            }
            _ => {}
        }
    }
    let event = event.expect("user event captured");
    assert_eq!(
        (event.name.as_str(), event.payload.as_slice()),
        ("deploy", &b"v1"[..])
    );
    let query = query.expect("query captured");
    assert_eq!(query.name, "whoami");
    assert_eq!(query.payload, b"hi");
    assert_eq!(query.timeout_ns, 1_000_000_000);
}

#[test]
fn tcp_push_pull_from_serf_decodes() {
    let streams = vectors("plain", "tcp");
    assert_eq!(streams.len(), 2);
    for (name, data) in &streams {
        let len = stream_frame_len(data).unwrap().expect("complete frame");
        assert_eq!(len, data.len(), "{name}");
        assert_eq!(data[0], MessageType::Compress as u8);
        let plain = decompress_payload(&data[1..]).unwrap();
        assert_eq!(stream_frame_len(&plain).unwrap(), Some(plain.len()));
        assert_eq!(plain[0], MessageType::PushPull as u8);
        let mut d = cairn_gossip::codec::msgpack::Decoder::new(&plain[1..]);
        let header =
            PushPullHeader::decode_struct(&d.value().unwrap().as_struct("h").unwrap()).unwrap();
        let mut nodes = Vec::new();
        for _ in 0..header.nodes {
            let v = d.value().unwrap();
            let n = PushNodeState::decode_struct(&v.as_struct("n").unwrap()).unwrap();
            // Re-encoding the node state reproduces Go's bytes.
            let mut again = Vec::new();
            n.encode_into(&mut Encoder::new(&mut again));
            assert!(plain.windows(again.len()).any(|w| w == again.as_slice()));
            nodes.push(n);
        }
        let user = d.rest();
        assert_eq!(user.len(), header.user_state_len);
        assert_eq!(user[0], SerfMessageType::PushPull as u8);
        let pp = PushPullMsg::decode_body(&user[1..]).unwrap();
        assert!(pp.ltime >= 1);
        if name.contains("_40454_17946") {
            // The joiner (s2) sends first, with Join set.
            assert!(header.join);
            assert_eq!(nodes[0].name, "s2");
        }
        assert!(nodes.iter().all(|n| n.state == WireState::Alive));
    }
}

#[test]
fn encrypted_traffic_from_serf_decrypts_with_the_key_only() {
    use base64::Engine;
    use cairn_gossip::security::Keyring;
    let key = base64::engine::general_purpose::STANDARD
        .decode("cg8StVXbQJ0gPvMd9o7yrg==")
        .unwrap();
    let ring = Keyring::new(&key, &[]).unwrap();
    let wrong = Keyring::new(&[0u8; 16], &[]).unwrap();
    let mut seen = Seen::default();
    for (_, p) in vectors("enc", "udp") {
        assert_eq!(p[0], 1, "encryption version 1 (memberlist protocol 2)");
        assert!(wrong.decrypt_packet(&p).is_err());
        walk(&ring.decrypt_packet(&p).unwrap(), &mut seen);
    }
    assert!(seen.alive.iter().any(|a| a.node == "e1"));
    assert!(seen.alive.iter().any(|a| a.node == "e2"));
    for (name, frame) in vectors("enc", "tcp") {
        assert_eq!(
            stream_frame_len(&frame).unwrap(),
            Some(frame.len()),
            "{name}"
        );
        assert!(wrong.decrypt_stream(&frame).is_err());
        let plain = ring.decrypt_stream(&frame).unwrap();
        // Inside: compress{push/pull}.
        assert_eq!(plain[0], MessageType::Compress as u8);
        let inner = decompress_payload(&plain[1..]).unwrap();
        assert_eq!(inner[0], MessageType::PushPull as u8);
    }
}
