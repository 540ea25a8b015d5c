//! Network coordinates: batch updates, reads, cleanup with the node, snapshots.

mod common;

use cairn_catalog::{Catalog, Command, Coord, NodeCoordinate, Table, WatchScope};
use cairn_consensus::StateMachine;
use common::*;
use std::time::Duration;

fn coord(node: &str, segment: &str, x: f64) -> NodeCoordinate {
    NodeCoordinate {
        node: node.into(),
        segment: segment.into(),
        coord: Coord {
            vec: vec![x, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            error: 0.5,
            adjustment: 0.0,
            height: 0.001,
        },
    }
}

#[test]
fn batch_update_skips_unknown_nodes_and_invalid_values() {
    let mut h = Harness::new();
    h.ok(register_node("n1"));
    h.ok(register_node("n2"));
    let watch = h.reader.watch(WatchScope::Table(Table::Coordinates));
    let mut bad = coord("n2", "", 1.0);
    bad.coord.error = f64::NAN;
    let i = h.ok(Command::CoordinateBatchUpdate {
        updates: vec![
            coord("n1", "", 0.01),
            coord("ghost", "", 1.0),
            bad,
            coord("N1", "seg-b", 0.02),
        ],
    });
    assert!(watch.has_changed());
    let (all, idx) = h.view().coordinates();
    assert_eq!(idx, i);
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|c| (c.node.as_str(), c.segment.as_str()))
        .collect();
    assert_eq!(got, vec![("n1", ""), ("N1", "seg-b")]);
    assert_eq!(h.view().node_coordinates("n1").0.len(), 2);
    assert!(h.view().node_coordinates("n2").0.is_empty());
    // The same values again change nothing.
    h.ok(Command::CoordinateBatchUpdate {
        updates: vec![coord("n1", "", 0.01)],
    });
    assert_eq!(h.view().table_index(Table::Coordinates), i);
}

#[test]
fn coordinates_go_with_their_node_and_survive_snapshots() {
    let mut h = Harness::new();
    h.ok(register_node("n1"));
    h.ok(register_node("n2"));
    h.ok(Command::CoordinateBatchUpdate {
        updates: vec![coord("n1", "", 0.01), coord("n2", "", 0.03)],
    });
    let snap = h.catalog.snapshot().expect("snapshot");
    let mut restored = Catalog::new();
    restored.restore(h.next - 1, &snap).expect("restore");
    assert_eq!(
        restored.reader().view().coordinates(),
        h.view().coordinates()
    );
    let i = h.ok(Command::DeregisterNode {
        node: "n1".into(),
        now_ms: 0,
    });
    let (all, idx) = h.view().coordinates();
    assert_eq!((all.len(), idx), (1, i));
}

#[test]
fn distance_follows_vivaldi() {
    let a = coord("a", "", 0.0).coord;
    let b = coord("b", "", 0.010).coord;
    // 10 ms apart plus two 1 ms heights.
    let d = a.distance_to(&b).expect("comparable");
    assert!((d.as_secs_f64() - 0.012).abs() < 1e-9, "{d:?}");
    let mut short = b.clone();
    short.vec.truncate(3);
    assert_eq!(a.distance_to(&short), None, "different dimensionality");
    let mut adjusted = b.clone();
    adjusted.adjustment = -1.0;
    assert_eq!(
        a.distance_to(&adjusted),
        Some(Duration::from_secs_f64(0.012)),
        "negative total ignores adjustments"
    );
}
