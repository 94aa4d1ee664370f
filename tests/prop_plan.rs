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
            // Nothing built on the roots of the label's lineage stays.
            let lineage = g.lineage(g.label_owner(label).unwrap());
            let roots: Vec<RevIndex> = (0..n).filter(|&i| lineage[i] && g.is_base(i)).collect();
            let gone = g.descendants(roots);
            prop_assert!((0..n).all(|i| !(gone[i] && after[i])));
            let members = g.branch_members(g.label_owner(label).unwrap());
            prop_assert!((0..n).all(|i| !(members[i] && after[i])));
        }

        // Stamping marks exactly a closed set containing the target.
        let stamped = set_of(&g, plan::stamp(&g, &applied, &[rev_target(&g, x)], false).unwrap());
        prop_assert!(closed(&g, &stamped));
        prop_assert!((0..n).all(|i| !needed[i] || stamped[i]));
        // x tops its line (a revision that still depends on it may keep it
        // out of the current heads).
        prop_assert!(g.applied_tips(&list(&stamped)).contains(&x));
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
        // Everything applied: the current heads are what `heads` names
        // (no revision only a dependency points to).
        prop_assert_eq!(g.current_heads(&applied), g.real_heads());
        prop_assert_eq!(
            Target::Heads.resolve(&g, &applied).unwrap(),
            g.real_heads()
        );
        let down = plan::downgrade(&g, &applied, &Target::Base).unwrap();
        let mut reversed: Vec<RevIndex> = down.revisions().collect();
        reversed.reverse();
        prop_assert_eq!(reversed.as_slice(), g.topo_order());
        let none = run(&g, &all, &down, Direction::Downgrade);
        prop_assert!(none.iter().all(|&a| !a));
    }
}

/// The revisions `downgrade -N` must pick, the slow and obvious way: N
/// times, of the revisions still applied that nothing still applied needs,
/// the latest in `order`.
fn applied_last_reference(g: &Graph, order: &[RevIndex], n: usize) -> Vec<RevIndex> {
    let mut state = set_of(g, order.iter().copied());
    let mut chosen = Vec::new();
    for _ in 0..n {
        let pick = order.iter().rev().copied().find(|&i| {
            state[i]
                && g.children(i)
                    .iter()
                    .chain(g.dependents(i))
                    .all(|&c| !state[c])
        });
        match pick {
            Some(i) => {
                state[i] = false;
                chosen.push(i);
            }
            None => break,
        }
    }
    chosen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// `downgrade -N` picks, step by step, the latest applied revision that
    /// nothing applied needs, whatever the applied order (stamps and
    /// rebased histories apply out of graph order), and leaves a closed state.
    #[test]
    fn minus_n_reverts_the_revisions_applied_last(
        case in case(),
        shuffle in prop::collection::vec(any::<u32>(), 300),
        steps in 1usize..12,
    ) {
        let g = build(&case.nodes);
        let n = g.len();
        let seeds: Vec<RevIndex> = case.seeds.iter().map(|s| s.index(n)).collect();
        let applied_marks = g.ancestors_with_deps(seeds);
        let mut order = list(&applied_marks);
        // A random applied order: sort by a random key per revision.
        order.sort_by_key(|&i| shuffle[i % shuffle.len()]);
        let target: Target = format!("-{steps}").parse().unwrap();
        let expected = applied_last_reference(&g, &order, steps);
        match plan::downgrade(&g, &order, &target) {
            Ok(down) => {
                let got: Vec<RevIndex> = down.revisions().collect();
                prop_assert_eq!(&got, &expected);
                prop_assert_eq!(got.len(), steps);
                let after = run(&g, &applied_marks, &down, Direction::Downgrade);
                prop_assert!(closed(&g, &after));
            }
            Err(e) if order.is_empty() => prop_assert_eq!(e.kind(), "nothing_applied"),
            Err(e) => {
                prop_assert_eq!(e.kind(), "overshoot");
                prop_assert!(steps > order.len());
                prop_assert_eq!(expected.len(), order.len());
            }
        }
    }

    /// Rows in one millisecond order by plan order; otherwise by time.
    #[test]
    fn applied_order_is_time_then_plan_order(
        case in case(),
        millis in prop::collection::vec(0u32..4, 300),
    ) {
        let g = build(&case.nodes);
        let stamps: Vec<String> = (0..g.len())
            .map(|i| format!("2026-05-01T10:00:00.{:03}{:03}Z", millis[i % millis.len()], i % 1000))
            .collect();
        let order = plan::applied_order(&g, (0..g.len()).rev().map(|i| (i, stamps[i].as_str())));
        prop_assert_eq!(order.len(), g.len());
        for pair in order.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (ma, mb) = (&stamps[a][..23], &stamps[b][..23]);
            prop_assert!(ma < mb || (ma == mb && g.topo_position(a) < g.topo_position(b)));
        }
    }

    /// `LABEL@REV` reverts exactly the applied revisions above REV on the
    /// label's lineage, and what needs them; every other branch above REV
    /// stays. A revision off the lineage is refused, naming the branch.
    #[test]
    fn label_at_rev_reverts_the_lineage_above_it(
        case in case(),
        pick in any::<Index>(),
        inside in any::<bool>(),
    ) {
        let g = build(&case.nodes);
        let n = g.len();
        let labels: Vec<&String> = g.labels().keys().collect();
        prop_assume!(!labels.is_empty());
        let label = labels[case.label.index(labels.len())];
        let owner = g.label_owner(label).unwrap();
        let lineage = g.lineage(owner);
        let seeds: Vec<RevIndex> = case.seeds.iter().map(|s| s.index(n)).collect();
        let applied_marks = g.ancestors_with_deps(seeds.into_iter().chain([owner]));
        let applied = list(&applied_marks);
        // Half the time a revision of the lineage, else any.
        let on_lineage = list(&lineage);
        let y = if inside { on_lineage[pick.index(on_lineage.len())] } else { pick.index(n) };
        let target: Target = format!("{label}@{}", g.rev(y).id).parse().unwrap();
        if !lineage[y] {
            let e = plan::downgrade(&g, &applied, &target).unwrap_err();
            prop_assert_eq!(e.kind(), "not_on_branch");
            prop_assert!(e.to_string().contains(label.as_str()));
            return Ok(());
        }
        if !applied_marks[y] {
            prop_assert_eq!(plan::downgrade(&g, &applied, &target).unwrap_err().kind(), "not_applied");
            return Ok(());
        }
        let down = plan::downgrade(&g, &applied, &target).unwrap();
        let removed = set_of(&g, down.revisions());
        let keep = g.ancestors_with_deps([y]);
        let desc = g.descendants([y]);
        let seeds: Vec<RevIndex> =
            (0..n).filter(|&i| desc[i] && !keep[i] && lineage[i] && applied_marks[i]).collect();
        let needs_seed = g.dependents_closure(seeds);
        for i in 0..n {
            let expected = applied_marks[i] && needs_seed[i];
            prop_assert_eq!(removed[i], expected, "{}", g.rev(i).id);
        }
        let after = run(&g, &applied_marks, &down, Direction::Downgrade);
        prop_assert!(closed(&g, &after));
        prop_assert!(after[y]);
    }

    /// A `depends_on` written as the dependency's branch label builds the
    /// same graph as one written as its id.
    #[test]
    fn depends_on_a_label_is_depends_on_its_revision(case in case()) {
        let by_id = build(&case.nodes);
        let label_of: std::collections::HashMap<&str, &str> = by_id
            .labels()
            .iter()
            .map(|(l, &i)| (by_id.rev(i).id.as_str(), l.as_str()))
            .collect();
        let revisions: Vec<rev::revision::Revision> = by_id
            .revisions()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                for d in &mut r.depends_on {
                    if let Some(label) = label_of.get(d.as_str()) {
                        *d = (*label).to_owned();
                    }
                }
                r
            })
            .collect();
        let by_label = Graph::build(revisions).expect("labels resolve");
        prop_assert_eq!(by_label.topo_order(), by_id.topo_order());
        for i in 0..by_id.len() {
            prop_assert_eq!(by_label.dependencies(i), by_id.dependencies(i));
            prop_assert_eq!(by_label.dependents(i), by_id.dependents(i));
        }
        prop_assert_eq!(by_label.real_heads(), by_id.real_heads());
    }

    /// The current heads are the applied revisions nothing applied names;
    /// everything applied is needed by one of them.
    #[test]
    fn current_heads_cover_the_applied_set(case in case()) {
        let g = build(&case.nodes);
        let n = g.len();
        let seeds: Vec<RevIndex> = case.seeds.iter().map(|s| s.index(n)).collect();
        let applied_marks = g.ancestors_with_deps(seeds);
        let heads = g.current_heads(&list(&applied_marks));
        for &h in &heads {
            prop_assert!(g.children(h).iter().chain(g.dependents(h)).all(|&c| !applied_marks[c]));
        }
        prop_assert_eq!(g.ancestors_with_deps(heads), applied_marks);
    }
}
