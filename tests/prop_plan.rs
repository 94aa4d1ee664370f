//! Property tests of the planner on random histories: plans are exactly the
//! right revisions in a valid order, and never leave a revision applied
//! without what it needs.

use proptest::prelude::*;
use proptest::sample::Index;
use rev::graph::{Graph, RevIndex};
use rev::plan::{self, Plan};
use rev::step::Direction;
use rev::target::Target;

/// One generated revision: how it attaches to the earlier ones.
#[derive(Debug, Clone)]
struct Node {
    /// < 5: a new base; < 15: a merge of two earlier revisions; else one
    /// parent. A multiple of 17 also carries a branch label.
    kind: u8,
    p1: Index,
    p2: Index,
    /// < 15: also `depends_on` an earlier revision.
    dep_roll: u8,
    dep: Index,
}

#[derive(Debug, Clone)]
struct Case {
    nodes: Vec<Node>,
    seeds: Vec<Index>,
    up_to: Index,
    down_to: Index,
    label: Index,
}

fn node() -> impl Strategy<Value = Node> {
    (
        0u8..100,
        any::<Index>(),
        any::<Index>(),
        0u8..100,
        any::<Index>(),
    )
        .prop_map(|(kind, p1, p2, dep_roll, dep)| Node {
            kind,
            p1,
            p2,
            dep_roll,
            dep,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(node(), 1..300),
        prop::collection::vec(any::<Index>(), 0..5),
        any::<Index>(),
        any::<Index>(),
        any::<Index>(),
    )
        .prop_map(|(nodes, seeds, up_to, down_to, label)| Case {
            nodes,
            seeds,
            up_to,
            down_to,
            label,
        })
}

fn build(nodes: &[Node]) -> Graph {
    let ids: Vec<String> = (0..nodes.len()).map(|i| format!("r{i:04}")).collect();
    let labels: Vec<String> = (0..nodes.len()).map(|i| format!("l{i}")).collect();
    let revisions = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut parents: Vec<&str> = Vec::new();
            if i > 0 && n.kind >= 5 {
                parents.push(&ids[n.p1.index(i)]);
                if n.kind < 15 {
                    let other = &ids[n.p2.index(i)];
                    if !parents.contains(&other.as_str()) {
                        parents.push(other);
                    }
                }
            }
            let mut deps: Vec<&str> = Vec::new();
            if i > 0 && n.dep_roll < 15 {
                let d = &ids[n.dep.index(i)];
                if !parents.contains(&d.as_str()) {
                    deps.push(d);
                }
            }
            let label: Vec<&str> = if n.kind % 17 == 0 {
                vec![&labels[i]]
            } else {
                vec![]
            };
            rev::synth::revision(&ids[i], &parents, &deps, &label)
        })
        .collect();
    Graph::build(revisions).expect("generated graphs are valid")
}

fn set_of(g: &Graph, revs: impl IntoIterator<Item = RevIndex>) -> Vec<bool> {
    let mut m = vec![false; g.len()];
    for i in revs {
        m[i] = true;
    }
    m
}

fn list(marks: &[bool]) -> Vec<RevIndex> {
    (0..marks.len()).filter(|&i| marks[i]).collect()
}

/// Whether every revision in `marks` has what it needs in `marks`.
fn closed(g: &Graph, marks: &[bool]) -> bool {
    (0..g.len()).all(|i| {
        !marks[i]
            || g.parents(i)
                .iter()
                .chain(g.dependencies(i))
                .all(|&p| marks[p])
    })
}

/// Runs `plan` on `applied`, checking each step can run when it does:
/// an upgrade only after what it needs, a downgrade only once nothing
/// applied needs it. Returns the new applied set.
fn run(g: &Graph, applied: &[bool], plan: &Plan, direction: Direction) -> Vec<bool> {
    let mut state = applied.to_vec();
    let mut seen = vec![false; g.len()];
    for step in &plan.steps {
        let r = step.revision;
        assert_eq!(step.direction, direction);
        assert!(!seen[r], "revision {} twice in a plan", g.rev(r).id);
        seen[r] = true;
        match direction {
            Direction::Upgrade => {
                assert!(!state[r], "{} is already applied", g.rev(r).id);
                for &p in g.parents(r).iter().chain(g.dependencies(r)) {
                    assert!(state[p], "{} runs before {}", g.rev(r).id, g.rev(p).id);
                }
                state[r] = true;
            }
            Direction::Downgrade => {
                assert!(state[r], "{} is not applied", g.rev(r).id);
                for &c in g.children(r).iter().chain(g.dependents(r)) {
                    assert!(
                        !state[c],
                        "{} reverted while {} needs it",
                        g.rev(r).id,
                        g.rev(c).id
                    );
                }
                state[r] = false;
            }
        }
    }
    state
}

fn rev_target(g: &Graph, i: RevIndex) -> Target {
    Target::Rev(g.rev(i).id.clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn plans_are_exact_and_ordered(case in case()) {
        let g = build(&case.nodes);
        let n = g.len();
        let seeds: Vec<RevIndex> = case.seeds.iter().map(|s| s.index(n)).collect();
        let applied_marks = g.ancestors_with_deps(seeds);
        let applied = list(&applied_marks);
        prop_assert!(closed(&g, &applied_marks));

        // Upgrade: exactly the unapplied revisions the target needs.
        let x = case.up_to.index(n);
        let up = plan::upgrade(&g, &applied, &rev_target(&g, x)).unwrap();
        let needed = g.ancestors_with_deps([x]);
        let expected: Vec<RevIndex> = (0..n).filter(|&i| needed[i] && !applied_marks[i]).collect();
        let mut got: Vec<RevIndex> = up.revisions().collect();
        got.sort_unstable();
        prop_assert_eq!(got, expected);
        let after = run(&g, &applied_marks, &up, Direction::Upgrade);
        prop_assert!(closed(&g, &after));
        prop_assert!(after[x]);
        // Upgrading again is empty.
        prop_assert!(plan::upgrade(&g, &list(&after), &rev_target(&g, x)).unwrap().is_empty());

        // Downgrade to an applied revision: exactly what lies above it, plus
        // what needs that, and the rest stays closed.
        if !applied.is_empty() {
            let y = applied[case.down_to.index(applied.len())];
            let down = plan::downgrade(&g, &applied, &rev_target(&g, y)).unwrap();
            let removed = set_of(&g, down.revisions());
            let keep = g.ancestors_with_deps([y]);
            let desc = g.descendants([y]);
            let above: Vec<bool> = (0..n).map(|i| desc[i] && !keep[i] && applied_marks[i]).collect();
            for i in 0..n {
                prop_assert!(!(removed[i] && keep[i]), "{} is needed by the target", g.rev(i).id);
                prop_assert!(!above[i] || removed[i], "{} lies above the target", g.rev(i).id);
                if removed[i] && !above[i] {
                    let needs = g.ancestors_with_deps([i]);
                    prop_assert!((0..n).any(|j| needs[j] && above[j]), "{} removed for nothing", g.rev(i).id);
                }
            }
            let after = run(&g, &applied_marks, &down, Direction::Downgrade);
            prop_assert!(closed(&g, &after));
            prop_assert!(after[y]);
            // Downgrading to the same revision again is empty.
            prop_assert!(plan::downgrade(&g, &list(&after), &rev_target(&g, y)).unwrap().is_empty());
        }

        // A branch downgrade leaves a closed state.
        let labels: Vec<&String> = g.labels().keys().collect();
        if !labels.is_empty() {
            let label = labels[case.label.index(labels.len())];
            let target: Target = format!("{label}@base").parse().unwrap();
            let down = plan::downgrade(&g, &applied, &target).unwrap();
            let after = run(&g, &applied_marks, &down, Direction::Downgrade);
            prop_assert!(closed(&g, &after));
            let members = g.branch_members(g.label_owner(label).unwrap());
            prop_assert!((0..n).all(|i| !(members[i] && after[i])));
        }

        // Stamping marks exactly a closed set containing the target.
        let stamped = set_of(&g, plan::stamp(&g, &applied, &[rev_target(&g, x)], false).unwrap());
        prop_assert!(closed(&g, &stamped));
        prop_assert!((0..n).all(|i| !needed[i] || stamped[i]));
        prop_assert_eq!(plan::current_heads(&g, &list(&stamped)).contains(&x), true);
    }

    #[test]
    fn heads_then_base_returns_to_empty(case in case()) {
        let g = build(&case.nodes);
        let up = plan::upgrade(&g, &[], &Target::Heads).unwrap();
        let order: Vec<RevIndex> = up.revisions().collect();
        prop_assert_eq!(order.as_slice(), g.topo_order());
        let all = run(&g, &vec![false; g.len()], &up, Direction::Upgrade);
        prop_assert!(all.iter().all(|&a| a));
        let applied = list(&all);
        prop_assert_eq!(plan::current_heads(&g, &applied), {
            // Applied heads = graph heads plus dependencies-only "heads"
            // are the same thing here: every revision is applied.
            g.heads()
        });
        let down = plan::downgrade(&g, &applied, &Target::Base).unwrap();
        let mut reversed: Vec<RevIndex> = down.revisions().collect();
        reversed.reverse();
        prop_assert_eq!(reversed.as_slice(), g.topo_order());
        let none = run(&g, &all, &down, Direction::Downgrade);
        prop_assert!(none.iter().all(|&a| !a));
    }
}
