//! The checker with a user-defined model: a FIFO queue.

use cairn_lincheck::{check_operations, Budget, CheckOutcome, Model, Operation};

#[derive(Debug)]
enum QueueOp {
    Push(u32),
    Pop,
}

struct Queue;

impl Model for Queue {
    type State = Vec<u32>;
    type Input = QueueOp;
    type Output = Option<u32>;

    fn init(&self) -> Vec<u32> {
        Vec::new()
    }

    fn step(&self, s: &Vec<u32>, input: &QueueOp, out: Option<&Option<u32>>) -> Option<Vec<u32>> {
        match input {
            QueueOp::Push(v) => {
                let mut n = s.clone();
                n.push(*v);
                Some(n)
            }
            QueueOp::Pop => {
                let head = s.first().copied();
                if out.is_some_and(|o| *o != head) {
                    return None;
                }
                Some(s.iter().skip(1).copied().collect())
            }
        }
    }
}

#[test]
fn fifo_order_is_enforced() {
    let push = |c, a, b, v| Operation::returned(c, a, b, QueueOp::Push(v), None);
    let pop = |c, a, b, v| Operation::returned(c, a, b, QueueOp::Pop, v);
    let ok = vec![
        push(0, 0, 10, 1),
        push(1, 0, 10, 2),
        pop(2, 20, 30, Some(2)),
        pop(2, 40, 50, Some(1)),
    ];
    assert_eq!(
        check_operations(&Queue, &ok, &Budget::UNLIMITED).expect("ok"),
        CheckOutcome::Linearizable
    );
    let bad = vec![
        push(0, 0, 10, 1),
        push(0, 20, 30, 2),
        pop(2, 40, 50, Some(2)),
    ];
    match check_operations(&Queue, &bad, &Budget::UNLIMITED).expect("ok") {
        CheckOutcome::NotLinearizable(c) => {
            assert_eq!(c.linearized, vec![0, 1]);
            assert_eq!(c.blocked, 2);
            assert_eq!(c.state, "[1, 2]");
        }
        other => panic!("unexpected {other:?}"),
    }
}
