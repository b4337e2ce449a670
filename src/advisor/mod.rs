//! Workload-level index selection. Pure: the planner is asked through [`WhatIf`] (in the server,
//! `workload` plans each statement with hypothetical indexes in place), the tables' write load
//! comes in, the chosen set goes out.
//!
//! Benefit is time: a statement's calls per hour × its mean time × the share of its planned
//! cost the indexes remove. Cost is time too: the index maintenance its table's writes would do
//! (see `writes`). Indexes are chosen greedily by net benefit, within the size budget, each
//! evaluated together with the ones already chosen (two indexes a join needs both count), and
//! only when it improves the statements it helps by at least the minimum share of what their
//! cost still is. Afterwards any chosen index the others make redundant goes: a wider index that
//! serves several statements wins over narrow ones, and nothing another choice already covers
//! is proposed.

pub mod candidates;
pub mod workload;
pub mod writes;

use std::collections::HashMap;

/// Marks estimates the planner made with the index in place (source `whatif`).
pub const COST_FROM_PLANNER: &str = "planner, with the index in place hypothetically";

/// One read statement of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub queryid: i64,
    pub calls_per_hour: f64,
    pub mean_ms: f64,
}

impl Load {
    pub fn ms_per_hour(&self) -> f64 {
        self.calls_per_hour * self.mean_ms
    }
}

/// What the planner says about one statement with a set of hypothetical indexes in place, over
/// its plan variants (the generic plan, or custom plans for captured values weighted by how
/// often they were seen).
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    pub cost_before: f64,
    pub cost_after: f64,
    /// Weighted share of the statement's planned cost removed, 0..1.
    pub share: f64,
    /// Spread (standard deviation) of that share across the variants: unstable parameters
    /// make the estimate less certain.
    pub spread: f64,
    /// Whether custom plans for captured values were among the variants.
    pub from_captured: bool,
    /// The candidates of the set some plan uses.
    pub used: Vec<usize>,
}

/// The planner, as the selection asks it.
pub trait WhatIf {
    /// Statement `s` with the candidates `base` in place, then with `base` and each of `extra`
    /// in turn. None where it could not be planned.
    fn evaluate(
        &mut self,
        s: usize,
        base: &[usize],
        extra: &[usize],
    ) -> (Option<Eval>, Vec<Option<Eval>>);
}

/// What an index would cost to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Upkeep {
    pub size_mb: f64,
    /// Index maintenance the table's writes would do, per hour.
    pub write_ms_per_hour: f64,
    /// That maintenance as a share of the time those writes take now, in percent.
    pub write_overhead_pct: f64,
}

/// A chosen index.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub candidate: usize,
    /// Statements whose plans use it, with the whole set in place, and the share of each one's
    /// cost that would come back without it.
    pub helped: Vec<(usize, f64)>,
    /// Time the helped statements save per hour thanks to it, before write overhead.
    pub ms_saved_per_hour: f64,
    /// That time as a share of the helped statements' time, in percent.
    pub improvement_pct: f64,
    pub confidence: f64,
}

impl Choice {
    pub fn net_ms_per_hour(&self, upkeep: &Upkeep) -> f64 {
        self.ms_saved_per_hour - upkeep.write_ms_per_hour
    }
}

/// The chosen set, and each statement's verdict with the chosen indexes on its tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub choices: Vec<Choice>,
    pub statements: HashMap<usize, Eval>,
    /// How the choice went, step by step, for the server log at DEBUG1.
    pub trace: Vec<String>,
}

/// Among candidates whose net benefit is within this share of the best, the smallest wins:
/// a covering variant must bring clearly more than its narrower sibling to be worth its size.
const NEAR_BEST: f64 = 0.9;

fn worth(extra: f64, now: f64, min_share: f64) -> bool {
    extra > 0.0 && now < 1.0 && extra / (1.0 - now) >= min_share
}

/// Greedy selection. `relevant[s]` lists the candidates worth trying on statement `s` (those on
/// its tables); `min_improvement_pct` applies per statement, to the cost left after the indexes
/// already chosen.
pub fn select(
    loads: &[Load],
    upkeep: &[Upkeep],
    relevant: &[Vec<usize>],
    whatif: &mut dyn WhatIf,
    budget_mb: f64,
    min_improvement_pct: f64,
) -> Selection {
    let min_share = (min_improvement_pct / 100.0).clamp(0.0, 1.0);
    let n = loads.len();
    // per statement: the chosen indexes on its tables, its verdict with them, and the verdicts
    // with each candidate added (recomputed when its chosen set changes)
    let mut on: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut now: Vec<Option<Eval>> = vec![None; n];
    let mut trial: Vec<HashMap<usize, Eval>> = vec![HashMap::new(); n];
    let mut dirty = vec![true; n];
    let mut chosen: Vec<usize> = Vec::new();
    let mut used_mb = 0.0;
    let mut trace = Vec::new();
    loop {
        for s in 0..n {
            if !dirty[s] || relevant[s].is_empty() {
                continue;
            }
            let extra: Vec<usize> = relevant[s]
                .iter()
                .copied()
                .filter(|c| !chosen.contains(c))
                .collect();
            let (base, with) = whatif.evaluate(s, &on[s], &extra);
            now[s] = base;
            trial[s] = extra
                .into_iter()
                .zip(with)
                .filter_map(|(c, e)| e.map(|e| (c, e)))
                .collect();
            dirty[s] = false;
        }
        let mut options: Vec<(usize, f64)> = Vec::new();
        for (c, keep) in upkeep.iter().enumerate() {
            if chosen.contains(&c) || used_mb + keep.size_mb > budget_mb {
                continue;
            }
            let mut saved = 0.0;
            for s in 0..n {
                let (Some(e), Some(base)) = (trial[s].get(&c), now[s].as_ref()) else {
                    continue;
                };
                if e.used.contains(&c) && worth(e.share - base.share, base.share, min_share) {
                    saved += loads[s].ms_per_hour() * (e.share - base.share);
                }
            }
            let net = saved - keep.write_ms_per_hour;
            if saved > 0.0 && net > 0.0 {
                options.push((c, net));
            }
        }
        trace.push(format!(
            "round {}: {}",
            chosen.len() + 1,
            (0..upkeep.len())
                .filter(|c| !chosen.contains(c))
                .map(|c| {
                    let shares: Vec<String> = (0..n)
                        .filter_map(|s| {
                            let e = trial[s].get(&c)?;
                            let b = now[s].as_ref()?;
                            Some(format!(
                                "s{s} {:.3}->{:.3}{}",
                                b.share,
                                e.share,
                                if e.used.contains(&c) { "" } else { " unused" }
                            ))
                        })
                        .collect();
                    format!("c{c} [{}]", shares.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        ));
        let Some(best) = options.iter().map(|(_, net)| *net).reduce(f64::max) else {
            break;
        };
        let options_count = options.len();
        let pick = options
            .into_iter()
            .filter(|(_, net)| *net >= best * NEAR_BEST)
            .min_by(|(a, _), (b, _)| {
                upkeep[*a]
                    .size_mb
                    .total_cmp(&upkeep[*b].size_mb)
                    .then(a.cmp(b))
            })
            .map(|(c, _)| c)
            .expect("the best option is near itself");
        trace.push(format!(
            "picked candidate {pick} (net {best:.1} ms/h best, {} options)",
            options_count
        ));
        used_mb += upkeep[pick].size_mb;
        chosen.push(pick);
        // statements are planned with every chosen index on their tables, as they will be
        for s in 0..n {
            if relevant[s].contains(&pick) {
                on[s].push(pick);
                dirty[s] = true;
            }
        }
    }
    let before_pruning = chosen.clone();
    prune(&mut chosen, &mut on, &mut now, upkeep, whatif, min_share);
    trace.push(format!(
        "chosen {before_pruning:?}, kept {chosen:?} after pruning"
    ));
    let mut selection = attribute(&chosen, &on, &now, loads, upkeep, whatif);
    selection.trace = trace;
    selection
}

/// Drops, smallest first, each chosen index whose statements the others serve about as well
/// (within `min_share` of what is left of their cost): greedy choice can take a narrow index
/// first and a wider one later that serves the same statements too.
fn prune(
    chosen: &mut Vec<usize>,
    on: &mut [Vec<usize>],
    now: &mut [Option<Eval>],
    upkeep: &[Upkeep],
    whatif: &mut dyn WhatIf,
    min_share: f64,
) {
    let mut by_size = chosen.clone();
    by_size.sort_by(|a, b| upkeep[*a].size_mb.total_cmp(&upkeep[*b].size_mb));
    for x in by_size {
        let mut without: Vec<(usize, Vec<usize>, Option<Eval>)> = Vec::new();
        let mut redundant = true;
        for s in (0..on.len()).filter(|s| on[*s].contains(&x)) {
            let rest: Vec<usize> = on[s].iter().copied().filter(|c| *c != x).collect();
            let (e, _) = whatif.evaluate(s, &rest, &[]);
            let with = now[s].as_ref().map(|e| e.share).unwrap_or(0.0);
            let lost = with - e.as_ref().map(|e| e.share).unwrap_or(0.0);
            let left = 1.0 - e.as_ref().map(|e| e.share).unwrap_or(0.0);
            if lost > 0.0 && left > 0.0 && lost / left >= min_share {
                redundant = false;
                break;
            }
            without.push((s, rest, e));
        }
        if redundant {
            chosen.retain(|c| *c != x);
            for (s, rest, e) in without {
                on[s] = rest;
                now[s] = e;
            }
        }
    }
}

/// Each chosen index is credited with what its statements would lose without it; an index no
/// plan uses, or that costs more than it saves, is left out.
fn attribute(
    chosen: &[usize],
    on: &[Vec<usize>],
    now: &[Option<Eval>],
    loads: &[Load],
    upkeep: &[Upkeep],
    whatif: &mut dyn WhatIf,
) -> Selection {
    let mut choices = Vec::new();
    for &c in chosen {
        let (mut helped, mut saved, mut base, mut weighted_confidence) =
            (Vec::new(), 0.0, 0.0, 0.0);
        for s in 0..on.len() {
            let Some(with) = now[s].as_ref().filter(|e| e.used.contains(&c)) else {
                continue;
            };
            let rest: Vec<usize> = on[s].iter().copied().filter(|x| *x != c).collect();
            let without = whatif
                .evaluate(s, &rest, &[])
                .0
                .map(|e| e.share)
                .unwrap_or(0.0);
            let lost = (with.share - without).max(0.0);
            let ms = loads[s].ms_per_hour() * lost;
            saved += ms;
            base += loads[s].ms_per_hour();
            weighted_confidence += ms * confidence(&loads[s], with);
            helped.push((s, lost));
        }
        let choice = Choice {
            candidate: c,
            helped,
            ms_saved_per_hour: saved,
            improvement_pct: if base > 0.0 {
                saved / base * 100.0
            } else {
                0.0
            },
            confidence: if saved > 0.0 {
                weighted_confidence / saved
            } else {
                0.5
            },
        };
        if !choice.helped.is_empty() && choice.net_ms_per_hour(&upkeep[c]) > 0.0 {
            choices.push(choice);
        }
    }
    let statements = now
        .iter()
        .enumerate()
        .filter(|(s, _)| !on[*s].is_empty())
        .filter_map(|(s, e)| e.clone().map(|e| (s, e)))
        .collect();
    Selection {
        choices,
        statements,
        trace: Vec::new(),
    }
}

/// How much to trust a statement's gain: more calls, stable parameters and estimates made with
/// the values the application really sends all make it likelier to hold.
pub fn confidence(load: &Load, eval: &Eval) -> f64 {
    let frequent = ((load.calls_per_hour + 1.0).log10() / 3.0).clamp(0.0, 1.0);
    let stable = if eval.from_captured {
        (1.0 - 2.0 * eval.spread).clamp(0.0, 1.0)
    } else {
        // generic plan only: how the values are spread is not known
        0.5
    };
    (0.45 + 0.25 * frequent + 0.25 * stable).min(0.95)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A planner where each candidate removes a fixed share of a statement's cost, and a set
    /// removes what its best member removes, plus any pair bonus given.
    struct Table {
        shares: Vec<(usize, usize, f64)>,
        /// (statement, a, b, share): a and b together remove this much
        pairs: Vec<(usize, usize, usize, f64)>,
        calls: usize,
    }

    impl Table {
        fn new(shares: &[(usize, usize, f64)]) -> Table {
            Table {
                shares: shares.to_vec(),
                pairs: Vec::new(),
                calls: 0,
            }
        }

        fn eval(&self, s: usize, set: &[usize]) -> Eval {
            let mut best = (0.0, Vec::new());
            for &(st, c, share) in &self.shares {
                if st == s && set.contains(&c) && share > best.0 {
                    best = (share, vec![c]);
                }
            }
            for &(st, a, b, share) in &self.pairs {
                if st == s && set.contains(&a) && set.contains(&b) && share > best.0 {
                    best = (share, vec![a, b]);
                }
            }
            Eval {
                cost_before: 100.0,
                cost_after: 100.0 * (1.0 - best.0),
                share: best.0,
                spread: 0.0,
                from_captured: false,
                used: best.1,
            }
        }
    }

    impl WhatIf for Table {
        fn evaluate(
            &mut self,
            s: usize,
            base: &[usize],
            extra: &[usize],
        ) -> (Option<Eval>, Vec<Option<Eval>>) {
            self.calls += 1 + extra.len();
            let with = extra
                .iter()
                .map(|c| {
                    let mut set = base.to_vec();
                    set.push(*c);
                    Some(self.eval(s, &set))
                })
                .collect();
            (Some(self.eval(s, base)), with)
        }
    }

    fn load(queryid: i64, calls: f64, mean_ms: f64) -> Load {
        Load {
            queryid,
            calls_per_hour: calls,
            mean_ms,
        }
    }

    fn upkeep(size_mb: f64, write_ms: f64) -> Upkeep {
        Upkeep {
            size_mb,
            write_ms_per_hour: write_ms,
            write_overhead_pct: 0.0,
        }
    }

    fn picked(selection: &Selection) -> Vec<usize> {
        selection.choices.iter().map(|c| c.candidate).collect()
    }

    fn all_relevant(statements: usize, candidates: usize) -> Vec<Vec<usize>> {
        vec![(0..candidates).collect(); statements]
    }

    #[test]
    fn one_wide_index_serving_two_statements_beats_two_narrow_ones() {
        let loads = [load(1, 1000.0, 10.0), load(2, 500.0, 10.0)];
        // 0: (a) helps statement 0; 1: (a, b) helps both; 2: (b2) helps statement 1 only
        let upkeep = [upkeep(10.0, 0.0), upkeep(14.0, 0.0), upkeep(10.0, 0.0)];
        let mut planner = Table::new(&[(0, 0, 0.95), (0, 1, 0.96), (1, 1, 0.99), (1, 2, 0.99)]);
        let chosen = select(
            &loads,
            &upkeep,
            &all_relevant(2, 3),
            &mut planner,
            1024.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![1], "{chosen:?}");
        assert_eq!(chosen.choices[0].helped, vec![(0, 0.96), (1, 0.99)]);
        let saved = chosen.choices[0].ms_saved_per_hour;
        assert!((saved - (10_000.0 * 0.96 + 5_000.0 * 0.99)).abs() < 1e-9);
    }

    #[test]
    fn an_index_that_costs_writes_more_than_it_saves_is_not_chosen() {
        let loads = [load(1, 10.0, 5.0)];
        let mut planner = Table::new(&[(0, 0, 0.9)]);
        let chosen = select(
            &loads,
            &[upkeep(5.0, 60.0)],
            &all_relevant(1, 1),
            &mut planner,
            1024.0,
            20.0,
        );
        assert!(chosen.choices.is_empty());
        let chosen = select(
            &loads,
            &[upkeep(5.0, 40.0)],
            &all_relevant(1, 1),
            &mut planner,
            1024.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![0]);
    }

    #[test]
    fn small_gains_and_gains_already_taken_do_not_count() {
        let loads = [load(1, 100.0, 10.0)];
        let mut planner = Table::new(&[(0, 0, 0.15)]);
        let chosen = select(
            &loads,
            &[upkeep(1.0, 0.0)],
            &all_relevant(1, 1),
            &mut planner,
            1024.0,
            20.0,
        );
        assert!(chosen.choices.is_empty(), "15 % is below the bar");
        // 0.95 -> 0.955 is 10 % of what the first index leaves: not worth a second index
        let mut planner = Table::new(&[(0, 0, 0.95), (0, 1, 0.955)]);
        let chosen = select(
            &loads,
            &[upkeep(1.0, 0.0), upkeep(2.0, 0.0)],
            &all_relevant(1, 2),
            &mut planner,
            1024.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![0]);
    }

    #[test]
    fn a_covering_variant_must_beat_its_narrow_sibling_by_the_minimum_share() {
        let loads = [load(1, 100.0, 10.0)];
        let sizes = [upkeep(10.0, 0.0), upkeep(20.0, 0.0)];
        let mut near = Table::new(&[(0, 0, 0.90), (0, 1, 0.91)]);
        let chosen = select(&loads, &sizes, &all_relevant(1, 2), &mut near, 1024.0, 20.0);
        assert_eq!(picked(&chosen), vec![0]);
        let mut far = Table::new(&[(0, 0, 0.60), (0, 1, 0.99)]);
        let chosen = select(&loads, &sizes, &all_relevant(1, 2), &mut far, 1024.0, 20.0);
        assert_eq!(picked(&chosen), vec![1]);
    }

    #[test]
    fn a_narrow_index_chosen_first_goes_when_a_wider_one_serves_its_statements_too() {
        // (a) is as good for statement 0 and almost as good for statement 1, and smaller: it
        // is taken first; (a, b) is then worth it for statement 1, and makes (a) redundant
        let loads = [load(1, 5000.0, 8.0), load(2, 2000.0, 10.0)];
        let upkeep = [upkeep(1.0, 10.0), upkeep(1.5, 10.0)];
        let mut planner = Table::new(&[(0, 0, 0.99), (1, 0, 0.98), (0, 1, 0.99), (1, 1, 0.995)]);
        let chosen = select(
            &loads,
            &upkeep,
            &all_relevant(2, 2),
            &mut planner,
            1024.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![1], "{chosen:?}");
        assert_eq!(chosen.choices[0].helped.len(), 2);
    }

    #[test]
    fn two_indexes_a_statement_needs_together_are_both_chosen() {
        // a join: each side's index alone removes a little, both together nearly everything
        let loads = [load(1, 1000.0, 20.0)];
        let mut planner = Table::new(&[(0, 0, 0.5), (0, 1, 0.3)]);
        planner.pairs.push((0, 0, 1, 0.98));
        let chosen = select(
            &loads,
            &[upkeep(1.0, 0.0), upkeep(1.0, 0.0)],
            &all_relevant(1, 2),
            &mut planner,
            1024.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![0, 1], "{chosen:?}");
        // each is credited with what the statement would lose without it
        assert!((chosen.choices[0].helped[0].1 - (0.98 - 0.3)).abs() < 1e-9);
        assert!((chosen.choices[1].helped[0].1 - (0.98 - 0.5)).abs() < 1e-9);
        assert!((chosen.statements[&0].share - 0.98).abs() < 1e-9);
    }

    #[test]
    fn the_budget_bounds_the_total_size() {
        let loads = [load(1, 100.0, 10.0), load(2, 100.0, 9.0)];
        let upkeep = [upkeep(600.0, 0.0), upkeep(600.0, 0.0)];
        let mut planner = Table::new(&[(0, 0, 0.9), (1, 1, 0.9)]);
        let chosen = select(
            &loads,
            &upkeep,
            &all_relevant(2, 2),
            &mut planner,
            1024.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![0]);
        let chosen = select(
            &loads,
            &upkeep,
            &all_relevant(2, 2),
            &mut planner,
            100.0,
            20.0,
        );
        assert!(chosen.choices.is_empty());
    }

    #[test]
    fn confidence_grows_with_calls_and_stable_values() {
        let stable = Eval {
            cost_before: 100.0,
            cost_after: 10.0,
            share: 0.9,
            spread: 0.0,
            from_captured: true,
            used: vec![0],
        };
        let unstable = Eval {
            spread: 0.4,
            ..stable.clone()
        };
        let busy = load(1, 10_000.0, 1.0);
        let rare = load(1, 2.0, 1.0);
        assert!(confidence(&busy, &stable) > confidence(&rare, &stable));
        assert!(confidence(&busy, &stable) > confidence(&busy, &unstable));
        assert!(confidence(&busy, &stable) <= 0.95);
        assert!(confidence(&rare, &unstable) >= 0.45);
    }
}
