use super::*;
use crate::random::SplitMix64;

fn three() -> Vec<Weighted> {
    (0..3)
        .map(|cluster| Weighted {
            cluster,
            weight: 1.0,
        })
        .collect()
}

fn share_of(cluster: usize, views: &[ClusterView], probe: f64) -> f64 {
    let mut r = SplitMix64::new(7);
    let n = 20_000;
    let hits = (0..n)
        .filter(|_| p2c(&three(), views, probe, &mut r).map(|(c, _)| c) == Some(cluster))
        .count();
    hits as f64 / n as f64
}

#[test]
fn equal_clusters_share_evenly_and_a_slow_one_loses_most_traffic() {
    let even = [ClusterView::default(); 3];
    let s = share_of(0, &even, 0.0);
    assert!((0.30..0.37).contains(&s), "{s}");
    let mut slow = [ClusterView {
        latency: 0.010,
        inflight: 2,
        ..ClusterView::default()
    }; 3];
    slow[1].latency = 0.200;
    // Cluster 1 wins only when drawn twice, which P2C never does: it is
    // chosen only as the first draw against nobody cheaper, i.e. never.
    assert!(share_of(1, &slow, 0.0) < 0.01);
}

#[test]
fn weights_scale_the_share() {
    let views = [ClusterView::default(); 3];
    let cands = [
        Weighted {
            cluster: 0,
            weight: 3.0,
        },
        Weighted {
            cluster: 1,
            weight: 1.0,
        },
    ];
    let mut r = SplitMix64::new(3);
    let n = 20_000;
    let zero = (0..n)
        .filter(|_| p2c(&cands, &views, 0.0, &mut r).map(|(c, _)| c) == Some(0))
        .count() as f64
        / n as f64;
    // Equal cost per weight: cluster 0 (weight 3) is cheaper at equal load.
    assert!(zero > 0.7, "{zero}");
}

#[test]
fn outliers_are_left_out_except_for_probes_and_all_avoided_uses_all() {
    let mut views = [ClusterView::default(); 3];
    views[2].avoided = true;
    let mut r = SplitMix64::new(5);
    let n = 20_000;
    let mut probes = 0;
    for _ in 0..n {
        let (c, reason) = p2c(&three(), &views, 0.05, &mut r).expect("choice");
        match reason {
            RouteReason::OutlierProbe => {
                assert_eq!(c, 2);
                probes += 1;
            }
            RouteReason::OutlierAvoid => assert_ne!(c, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
    let p = f64::from(probes) / f64::from(n);
    assert!((0.04..0.06).contains(&p), "{p}");
    let all = [ClusterView {
        avoided: true,
        ..ClusterView::default()
    }; 3];
    assert_eq!(
        p2c(&three(), &all, 0.05, &mut r).map(|x| x.1),
        Some(RouteReason::P2c)
    );
    assert_eq!(p2c(&[], &all, 0.05, &mut r), None);
}

#[test]
fn rendezvous_is_stable_and_moves_only_the_keys_of_a_removed_candidate() {
    let views = [ClusterView::default(); 3];
    let keys: Vec<String> = (0..3000).map(|i| format!("tenant-{i}")).collect();
    let before: Vec<usize> = keys
        .iter()
        .map(|k| rendezvous(&three(), &views, k.as_bytes()).expect("pick"))
        .collect();
    for c in 0..3 {
        let n = before.iter().filter(|&&x| x == c).count();
        assert!((850..1150).contains(&n), "cluster {c}: {n}");
    }
    let mut one_out = views;
    one_out[1].avoided = true;
    for (k, was) in keys.iter().zip(&before) {
        let now = rendezvous(&three(), &one_out, k.as_bytes()).expect("pick");
        if *was != 1 {
            assert_eq!(now, *was, "{k} moved though its cluster stayed");
        } else {
            assert_ne!(now, 1);
        }
    }
}
