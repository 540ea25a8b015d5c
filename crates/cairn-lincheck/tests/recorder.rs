//! The thread-safe recorder, fed by real threads hitting a real (mutex-protected) store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;

use cairn_lincheck::{
    check_kv, Budget, HistoryRecorder, KvHistory, KvInput, KvOutput, Outcome, Verdict,
};

#[test]
fn threads_recording_against_a_linearizable_store_pass() {
    let recorder = Arc::new(HistoryRecorder::<KvInput, KvOutput>::new());
    let store: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let handles: Vec<_> = (0..4u64)
        .map(|client| {
            let (recorder, store) = (Arc::clone(&recorder), Arc::clone(&store));
            thread::spawn(move || {
                for n in 0..200u64 {
                    let key = format!("k{}", n % 3);
                    let guard = |f: &mut dyn FnMut(&mut HashMap<String, String>) -> KvOutput| {
                        f(&mut store.lock().unwrap_or_else(|e| e.into_inner()))
                    };
                    if n % 2 == 0 {
                        let t = recorder.invoke(client, KvInput::Read { key: key.clone() });
                        let out = guard(&mut |s| KvOutput::Read {
                            value: s.get(&key).cloned(),
                            index: None,
                        });
                        recorder.complete(t, out);
                    } else if n % 7 == 1 {
                        // A request that "timed out" after being applied.
                        let value = format!("c{client}-{n}");
                        let t = recorder.invoke(
                            client,
                            KvInput::Write {
                                key: key.clone(),
                                value: value.clone(),
                            },
                        );
                        guard(&mut |s| {
                            s.insert(key.clone(), value.clone());
                            KvOutput::Done
                        });
                        recorder.fail_unknown(t);
                    } else if n % 11 == 3 {
                        // Refused before sending: no effect, not recorded.
                        let t = recorder.invoke(client, KvInput::Delete { key: key.clone() });
                        recorder.discard(t);
                    } else {
                        let value = format!("c{client}-{n}");
                        let t = recorder.invoke(
                            client,
                            KvInput::Write {
                                key: key.clone(),
                                value: value.clone(),
                            },
                        );
                        let out = guard(&mut |s| {
                            s.insert(key.clone(), value.clone());
                            KvOutput::Done
                        });
                        recorder.complete(t, out);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    let history = recorder.history();
    assert_eq!(history.ops.len(), recorder.len());
    let discarded = (0..200)
        .filter(|n| n % 2 == 1 && n % 7 != 1 && n % 11 == 3)
        .count();
    assert_eq!(history.ops.len(), 4 * (200 - discarded));
    assert!(history
        .ops
        .iter()
        .all(|o| o.ret().is_none_or(|r| r >= o.call)));
    let unknown = history
        .ops
        .iter()
        .filter(|o| o.outcome == Outcome::Unknown)
        .count();
    assert!(unknown > 0);
    let report = check_kv(&history, &Budget::default()).expect("well-formed");
    assert_eq!(
        report.verdict(),
        Verdict::Linearizable,
        "{}",
        report.explain(&history)
    );
    let recorder = Arc::try_unwrap(recorder).expect("threads joined");
    assert_eq!(recorder.into_history(), history);
}

#[test]
fn pending_operations_are_unknown_and_foreign_tokens_are_ignored() {
    let a = HistoryRecorder::<KvInput, KvOutput>::new();
    let b = HistoryRecorder::<KvInput, KvOutput>::new();
    assert!(a.is_empty());
    let t1 = a.invoke(
        0,
        KvInput::Write {
            key: "k".into(),
            value: "v".into(),
        },
    );
    let _pending = a.invoke(1, KvInput::Read { key: "k".into() });
    let foreign = b.invoke(2, KvInput::Read { key: "k".into() });
    a.complete(
        foreign,
        KvOutput::Read {
            value: None,
            index: None,
        },
    );
    a.complete(t1, KvOutput::Done);
    let h: KvHistory = a.history();
    assert_eq!(h.ops.len(), 2);
    assert!(matches!(
        h.ops[0].outcome,
        Outcome::Returned {
            output: KvOutput::Done,
            ..
        }
    ));
    assert_eq!(h.ops[1].outcome, Outcome::Unknown);
    assert_eq!(b.history().ops[0].outcome, Outcome::Unknown);
}
