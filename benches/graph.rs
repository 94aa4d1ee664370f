//! Benchmarks of the graph engine on generated histories (see `rev::synth`)
//! of 1,000 and 10,000 revisions: loading a script directory from disk
//! (read + parse + validate + topological order) and asking for its heads,
//! and planning `upgrade heads` from an empty database, and back down with
//! `downgrade base`, `downgrade -N` (N half the history) and a downgrade on
//! a lineage (`HEAD@ROOT`). Sample counts are small so the whole run takes a
//! couple of minutes.
//!
//! Run with `cargo bench --bench graph`; filter with e.g.
//! `cargo bench --bench graph -- load_heads/chain`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rev::graph::{Graph, RevIndex};
use rev::plan;
use rev::synth::{self, Shape};
use rev::target::Target;

const SIZES: [usize; 2] = [1_000, 10_000];

fn shapes() -> [Shape; 3] {
    [
        Shape::Chain,
        Shape::Branches {
            branches: 8,
            merge_every: 100,
        },
        Shape::ManyHeads { heads: 200 },
    ]
}

fn load_heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_heads");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    for shape in shapes() {
        for n in SIZES {
            let dir = tempfile::tempdir().expect("temp dir");
            synth::write(dir.path(), shape, n).expect("write history");
            group.bench_with_input(BenchmarkId::new(shape.name(), n), dir.path(), |b, path| {
                b.iter(|| {
                    let graph = Graph::load(path).expect("history loads");
                    black_box(graph.heads())
                })
            });
        }
    }
    group.finish();
}

fn plan_base_to_heads(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for shape in shapes() {
        for n in SIZES {
            let graph = Graph::build(synth::revisions(shape, n)).expect("history builds");
            group.bench_with_input(
                BenchmarkId::new(format!("upgrade_heads/{}", shape.name()), n),
                &graph,
                |b, g| b.iter(|| black_box(plan::upgrade(g, &[], &Target::Heads).expect("plan"))),
            );
            let all: Vec<RevIndex> = graph.topo_order().to_vec();
            group.bench_with_input(
                BenchmarkId::new(format!("downgrade_base/{}", shape.name()), n),
                &graph,
                |b, g| b.iter(|| black_box(plan::downgrade(g, &all, &Target::Base).expect("plan"))),
            );
            // `-N` by applied order, half the history back (here the applied
            // order is the plan order).
            let half: Target = format!("-{}", n / 2).parse().expect("target");
            group.bench_with_input(
                BenchmarkId::new(format!("downgrade_minus_half/{}", shape.name()), n),
                &graph,
                |b, g| b.iter(|| black_box(plan::downgrade(g, &all, &half).expect("plan"))),
            );
            // `HEAD@ROOT`: the lineage of the last head, above the root.
            let head = graph.heads().last().copied().expect("a head");
            let root = graph.topo_order()[0];
            let on_lineage: Target = format!("{}@{}", graph.rev(head).id, graph.rev(root).id)
                .parse()
                .expect("target");
            group.bench_with_input(
                BenchmarkId::new(format!("downgrade_lineage/{}", shape.name()), n),
                &graph,
                |b, g| b.iter(|| black_box(plan::downgrade(g, &all, &on_lineage).expect("plan"))),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, load_heads, plan_base_to_heads);
criterion_main!(benches);
