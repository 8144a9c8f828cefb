//! How a request spreads its clusters over lanes: `--parallel N` runs up to N clusters at
//! once, each lane working through its clusters one after the other. The workflow and the dry
//! run's estimate use this one assignment, so the plan shows what will run.

/// The cluster indexes of each lane: cluster `i` goes to lane `i % lanes`, with the number of
/// lanes `parallel` clamped to 1..=`clusters` (at least one lane, no empty ones).
pub fn lanes(clusters: usize, parallel: usize) -> Vec<Vec<usize>> {
    let count = parallel.clamp(1, clusters.max(1));
    let mut lanes = vec![Vec::new(); count];
    for index in 0..clusters {
        lanes[index % count].push(index);
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::lanes;

    #[test]
    fn round_robin_over_at_most_as_many_lanes_as_clusters() {
        assert_eq!(lanes(5, 2), vec![vec![0, 2, 4], vec![1, 3]]);
        assert_eq!(lanes(2, 8), vec![vec![0], vec![1]]);
        assert_eq!(lanes(3, 0), vec![vec![0, 1, 2]]);
        assert_eq!(lanes(0, 4), vec![Vec::<usize>::new()]);
    }
}
