//! Workload-level index selection. Pure: the planner is asked through [`WhatIf`] (in the server,
//! `workload` plans each statement with hypothetical indexes in place), the tables' write load
//! comes in, the chosen set goes out.
//!
//! Benefit is time: a statement's calls per hour × its mean time × the share of its planned
//! cost the indexes remove. Cost is time too: the index maintenance its table's writes would do
//! (see `writes`), and space, bounded by the budget. The search is greedy: each step either adds
//! a candidate or widens an index already chosen by one more key column (an index-only scan, a
//! second join key, a sort after an equality), every step evaluated with the indexes already
//! chosen in place (two indexes a join needs both count, an index another one covers gains
//! nothing), and a step only counts for a statement it improves by at least the minimum share of
//! what its cost still is. It runs twice, once taking the step that saves the most time and once
//! the step that saves the most per megabyte, and keeps whichever set saves more: the first
//! spends a small budget on the one large index that matters, the second fills a large budget
//! with many small ones. Greedy choice never goes back on a step, so then one chosen index at a
//! time is exchanged for another when that saves more (an index taken early for one statement
//! can hold the room one serving four would use better), and the room left is filled again.
//! When no exchange pays, each chosen index in turn is dropped and its room filled again
//! greedily without it, which can put two smaller indexes where one larger one was.
//! Afterwards any chosen index the others make redundant goes.
//!
//! A search with a time bound (the worker's analysis) stops when the planner says time is up,
//! before a step whose options it has not all weighed, and keeps the set chosen so far.

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

/// The planner, as the selection asks it, and where wider candidates come from.
pub trait WhatIf {
    /// Statement `s` planned with each of `sets` of candidates in place; None where it could
    /// not be planned.
    fn evaluate(&mut self, s: usize, sets: &[Vec<usize>]) -> Vec<Option<Eval>>;

    /// Candidates that are candidate `c` with one more key column, each with what it would cost
    /// to keep: new ones get numbers past every number used so far; a known candidate with
    /// those keys keeps its number. Asked once per candidate.
    fn widen(&mut self, c: usize) -> Vec<(usize, Upkeep)>;

    /// Whether the search must stop now and keep the set chosen so far. Never, unless the
    /// planner has a time bound.
    fn time_is_up(&self) -> bool {
        false
    }
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
    /// What each candidate would cost to keep, widenings included.
    pub upkeep: Vec<Upkeep>,
    /// False when time ran out before the search had weighed every step it would have: the
    /// set is the best found so far, and an index left out is not known to be worse.
    pub complete: bool,
}

/// Among steps whose net benefit is within this share of the best, the smallest wins: a
/// covering variant must bring clearly more than its narrower sibling to be worth its size.
const NEAR_BEST: f64 = 0.9;

/// A step's size counts as at least this much when benefit is divided by it: an index on a tiny
/// table is not infinitely good value.
const MIN_STEP_MB: f64 = 0.1;

/// An exchange of one chosen index for another must save at least this share more than the set
/// saves: smaller ones are within the planner's own error, and would only churn.
const EXCHANGE_GAIN: f64 = 0.005;

/// Rounds of exchanges (or, when no exchange pays, drops and refills) tried at most after the
/// greedy choice (each one plans every statement the indexes exchanged touch with every
/// candidate that fits).
const MAX_EXCHANGES: usize = 8;

fn worth(extra: f64, now: f64, min_share: f64) -> bool {
    extra > 0.0 && now < 1.0 && extra / (1.0 - now) >= min_share
}

/// How a greedy run ranks its possible steps.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rank {
    /// The most time saved, net of writes; the smallest of those nearly as good.
    Benefit,
    /// The most time saved per megabyte added.
    PerMegabyte,
}

/// A possible step: add candidate `add`, in place of `replaces` when it widens a chosen one.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    add: usize,
    replaces: Option<usize>,
}

/// Where a greedy run ended: the chosen set, and per statement the chosen indexes it may use
/// and its verdict with them.
#[derive(Debug, Clone)]
struct Outcome {
    chosen: Vec<usize>,
    on: Vec<Vec<usize>>,
    now: Vec<Option<Eval>>,
}

/// The candidates as the search grows them: widenings get numbers past the initial ones, serve
/// the statements their narrower index serves, and are asked for once per candidate.
struct Search<'a> {
    loads: &'a [Load],
    upkeep: Vec<Upkeep>,
    relevant: Vec<Vec<usize>>,
    widened: HashMap<usize, Vec<usize>>,
    /// Candidates of the initial list (other widenings are only reached from a chosen index).
    initial: usize,
    /// Widenings offered as steps of their own, as the initial candidates are, each with the
    /// candidate it widens (see [`Search::seed`]).
    seeded: Vec<(usize, usize)>,
    min_share: f64,
    /// Time ran out (see [`WhatIf::time_is_up`]).
    cut_short: bool,
}

impl Search<'_> {
    fn widenings(&mut self, c: usize, whatif: &mut dyn WhatIf) -> Vec<usize> {
        if let Some(known) = self.widened.get(&c) {
            return known.clone();
        }
        let mut made = Vec::new();
        for (w, keep) in whatif.widen(c) {
            if w < self.upkeep.len() {
                // a known candidate: it serves the statements it served already
                made.push(w);
                continue;
            }
            let placeholder = Upkeep {
                size_mb: f64::INFINITY,
                write_ms_per_hour: f64::INFINITY,
                write_overhead_pct: 0.0,
            };
            self.upkeep.resize(w + 1, placeholder);
            self.upkeep[w] = keep;
            for serves in self.relevant.iter_mut() {
                if serves.contains(&c) {
                    serves.push(w);
                }
            }
            made.push(w);
        }
        self.widened.insert(c, made.clone());
        made
    }

    /// Offers as steps of their own the widenings of every candidate some statement's plan uses
    /// alone and costs less with. Greedy choice widens only what it has chosen, and a join key
    /// alone can serve little where the join key with a filter column serves much (`lineorder
    /// (lo_orderdate, lo_quantity)` for a date join with a quantity range): the key alone would
    /// not be chosen, so its widening would never be weighed. The plans asked here are the ones
    /// the first greedy round asks for.
    fn seed(&mut self, whatif: &mut dyn WhatIf, empty: &Outcome) {
        let mut used: Vec<usize> = Vec::new();
        for s in 0..self.loads.len() {
            if whatif.time_is_up() {
                break;
            }
            let Some(base) = empty.now[s].as_ref().map(|e| e.share) else {
                continue;
            };
            let alone: Vec<usize> = self.relevant[s]
                .iter()
                .copied()
                .filter(|c| *c < self.initial)
                .collect();
            let sets: Vec<Vec<usize>> = alone.iter().map(|c| vec![*c]).collect();
            for (c, e) in alone.iter().zip(whatif.evaluate(s, &sets)) {
                // used and cheaper: a copy of an index the table has is used for nothing
                let serves = e.is_some_and(|e| e.used.contains(c) && e.share > base + 1e-6);
                if serves && !used.contains(c) {
                    used.push(*c);
                }
            }
        }
        used.sort_unstable();
        for c in used {
            for w in self.widenings(c, whatif) {
                if w >= self.initial {
                    self.seeded.push((w, c));
                }
            }
        }
    }

    /// The seeded widenings to offer next to `chosen`: once the index a widening widens is
    /// chosen, the widening is a step in its place, and both together need no planning.
    fn seeded_steps(&self, chosen: &[usize]) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for &(w, _) in &self.seeded {
            let widens_chosen = self
                .seeded
                .iter()
                .any(|(v, c)| *v == w && chosen.contains(c));
            if !widens_chosen && !out.contains(&w) {
                out.push(w);
            }
        }
        out
    }

    /// The set statement `s` is planned with after `step`.
    fn after(&self, s: usize, on: &[usize], step: Step) -> Option<Vec<usize>> {
        let adds = self.relevant[s].contains(&step.add);
        let drops = step.replaces.is_some_and(|r| on.contains(&r));
        if !adds && !drops {
            return None;
        }
        let mut set: Vec<usize> = on
            .iter()
            .copied()
            .filter(|c| Some(*c) != step.replaces)
            .collect();
        if adds {
            set.push(step.add);
        }
        Some(set)
    }

    fn size_of(&self, step: Step) -> f64 {
        self.upkeep[step.add].size_mb - step.replaces.map_or(0.0, |r| self.upkeep[r].size_mb)
    }

    fn writes_of(&self, step: Step) -> f64 {
        self.upkeep[step.add].write_ms_per_hour
            - step
                .replaces
                .map_or(0.0, |r| self.upkeep[r].write_ms_per_hour)
    }

    /// Time the chosen set saves per hour, net of the writes it slows.
    fn net(&self, outcome: &Outcome) -> f64 {
        let saved: f64 = outcome
            .now
            .iter()
            .zip(self.loads)
            .map(|(e, l)| l.ms_per_hour() * e.as_ref().map_or(0.0, |e| e.share))
            .sum();
        saved - self.writes(&outcome.chosen)
    }

    /// Index maintenance the writes would do per hour with `chosen` in place.
    fn writes(&self, chosen: &[usize]) -> f64 {
        chosen
            .iter()
            .map(|c| self.upkeep[*c].write_ms_per_hour)
            .sum()
    }

    /// What `to` saves per hour more than `from`, net of writes, counting a statement's gain
    /// only where it is worth an index (see [`worth`]) and every loss.
    fn net_over(&self, from: &Outcome, to: &Outcome) -> f64 {
        let share = |e: &Option<Eval>| e.as_ref().map_or(0.0, |e| e.share);
        let saved: f64 = (0..self.loads.len())
            .map(|s| {
                let (was, is) = (share(&from.now[s]), share(&to.now[s]));
                let extra = is - was;
                if extra < 0.0 || worth(extra, was, self.min_share) {
                    self.loads[s].ms_per_hour() * extra
                } else {
                    0.0
                }
            })
            .sum();
        saved - (self.writes(&to.chosen) - self.writes(&from.chosen))
    }

    /// No index chosen: each statement as it is planned now.
    fn empty(&self, whatif: &mut dyn WhatIf) -> Outcome {
        let n = self.loads.len();
        let now = (0..n)
            .map(|s| {
                if self.relevant[s].is_empty() {
                    None
                } else {
                    whatif.evaluate(s, &[Vec::new()]).pop().flatten()
                }
            })
            .collect();
        Outcome {
            chosen: Vec::new(),
            on: vec![Vec::new(); n],
            now,
        }
    }

    fn used_mb(&self, chosen: &[usize]) -> f64 {
        chosen.iter().map(|c| self.upkeep[*c].size_mb).sum()
    }

    /// Takes `step`: statements are planned with every chosen index they may use, as they will
    /// be.
    fn take(&self, whatif: &mut dyn WhatIf, outcome: &mut Outcome, step: Step) {
        match step.replaces {
            Some(r) => {
                let at = outcome
                    .chosen
                    .iter()
                    .position(|c| *c == r)
                    .expect("it was chosen");
                outcome.chosen[at] = step.add;
            }
            None => outcome.chosen.push(step.add),
        }
        for s in 0..self.loads.len() {
            if let Some(set) = self.after(s, &outcome.on[s], step) {
                outcome.now[s] = whatif
                    .evaluate(s, std::slice::from_ref(&set))
                    .pop()
                    .flatten();
                outcome.on[s] = set;
            }
        }
    }

    /// What each of `steps` would change in the time saved per hour from `from`, before
    /// writes, and whether it serves some statement (a plan uses what it adds, and gains at
    /// least the minimum share there). Each statement is asked about once, with every step that
    /// changes its set (the planner plans a set several steps lead to once). None when time ran
    /// out before every statement was asked.
    fn gains(
        &mut self,
        whatif: &mut dyn WhatIf,
        from: &Outcome,
        steps: &[Step],
        trace: &mut Vec<String>,
    ) -> Option<Vec<(f64, bool)>> {
        let mut gains = vec![(0.0, false); steps.len()];
        for s in 0..self.loads.len() {
            if whatif.time_is_up() {
                if !self.cut_short {
                    trace.push("time is up: the search keeps the set chosen so far".into());
                }
                self.cut_short = true;
                return None;
            }
            let Some(base) = from.now[s].as_ref() else {
                continue;
            };
            let (which, sets): (Vec<usize>, Vec<Vec<usize>>) = steps
                .iter()
                .enumerate()
                .filter_map(|(i, step)| Some((i, self.after(s, &from.on[s], *step)?)))
                .unzip();
            if sets.is_empty() {
                continue;
            }
            let ms = self.loads[s].ms_per_hour();
            for (i, e) in which.into_iter().zip(whatif.evaluate(s, &sets)) {
                let Some(e) = e else { continue };
                let extra = e.share - base.share;
                if extra < 0.0 {
                    gains[i].0 += ms * extra;
                } else if e.used.contains(&steps[i].add) && worth(extra, base.share, self.min_share)
                {
                    gains[i] = (gains[i].0 + ms * extra, true);
                }
            }
        }
        Some(gains)
    }

    /// The best exchange of one chosen index for one it does not have (a candidate or a known
    /// widening) that fits the budget and saves more, net of writes, than `from` by at least
    /// [`EXCHANGE_GAIN`] of what `from` saves. Greedy choice never goes back: a large index
    /// taken first can hold the room two others would use better, and an index taken for one
    /// statement can be worth less than one taken for four others.
    fn exchange(
        &mut self,
        whatif: &mut dyn WhatIf,
        budget_mb: f64,
        from: &Outcome,
        trace: &mut Vec<String>,
    ) -> Option<Outcome> {
        let used_mb = self.used_mb(&from.chosen);
        let steps: Vec<Step> = from
            .chosen
            .iter()
            .flat_map(|&x| {
                (0..self.upkeep.len())
                    .filter(|y| !from.chosen.contains(y))
                    .map(move |y| Step {
                        add: y,
                        replaces: Some(x),
                    })
            })
            .filter(|step| {
                // widenings not made yet have no size
                self.upkeep[step.add].size_mb.is_finite()
                    && used_mb + self.size_of(*step) <= budget_mb
                    && self.relevant.iter().any(|r| r.contains(&step.add))
            })
            .collect();
        if steps.is_empty() {
            return None;
        }
        let least = EXCHANGE_GAIN * self.net(from).max(0.0);
        let (step, net) = self
            .gains(whatif, from, &steps, trace)?
            .into_iter()
            .zip(&steps)
            .filter(|((_, serves), _)| *serves)
            .map(|((gain, _), step)| (*step, gain - self.writes_of(*step)))
            .filter(|(_, net)| *net > least)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.add.cmp(&a.0.add)))?;
        trace.push(format!(
            "exchange: candidate {} in place of {} (net {net:+.1} ms/h, {:+.1} MB)",
            step.add,
            step.replaces.expect("an exchange replaces"),
            self.size_of(step)
        ));
        let mut outcome = from.clone();
        self.take(whatif, &mut outcome, step);
        Some(outcome)
    }

    /// `from` without chosen index `x`: the statements that could use it planned with the rest.
    fn without(&self, whatif: &mut dyn WhatIf, from: &Outcome, x: usize) -> Outcome {
        let mut outcome = from.clone();
        outcome.chosen.retain(|c| *c != x);
        for s in 0..self.loads.len() {
            if outcome.on[s].contains(&x) {
                let rest: Vec<usize> = outcome.on[s].iter().copied().filter(|c| *c != x).collect();
                outcome.now[s] = whatif
                    .evaluate(s, std::slice::from_ref(&rest))
                    .pop()
                    .flatten();
                outcome.on[s] = rest;
            }
        }
        outcome
    }

    /// The best of: each chosen index dropped, and the room it leaves filled again greedily
    /// without it, when that saves more than `from` by at least [`EXCHANGE_GAIN`]. An exchange
    /// puts one index in place of one: this puts any number, so one large index can give way to
    /// two smaller ones that serve its statements apart, neither of which saves more than it
    /// alone.
    fn drop_and_refill(
        &mut self,
        whatif: &mut dyn WhatIf,
        budget_mb: f64,
        rank: Rank,
        from: &Outcome,
        trace: &mut Vec<String>,
    ) -> Option<Outcome> {
        let least = EXCHANGE_GAIN * self.net(from).max(0.0);
        let mut best: Option<(f64, usize, Outcome)> = None;
        for &x in &from.chosen {
            let without = self.without(whatif, from, x);
            let mut steps = Vec::new();
            let refilled = self.greedy(whatif, budget_mb, rank, &mut steps, without, &[x]);
            if self.cut_short {
                trace.extend(steps.into_iter().filter(|t| t.starts_with("time is up")));
                return None;
            }
            let net = self.net_over(from, &refilled);
            if net > least && best.as_ref().is_none_or(|b| net > b.0) {
                best = Some((net, x, refilled));
            }
        }
        let (net, x, outcome) = best?;
        let added: Vec<usize> = outcome
            .chosen
            .iter()
            .copied()
            .filter(|c| !from.chosen.contains(c))
            .collect();
        trace.push(format!(
            "drop and refill: {added:?} in place of candidate {x} (net {net:+.1} ms/h, {:+.1} MB)",
            self.used_mb(&outcome.chosen) - self.used_mb(&from.chosen)
        ));
        Some(outcome)
    }

    /// Adds steps to `from` while one saves time and fits the budget; candidates in `barred`
    /// are not added.
    fn greedy(
        &mut self,
        whatif: &mut dyn WhatIf,
        budget_mb: f64,
        rank: Rank,
        trace: &mut Vec<String>,
        from: Outcome,
        barred: &[usize],
    ) -> Outcome {
        let mut outcome = from;
        let mut used_mb = self.used_mb(&outcome.chosen);
        loop {
            let chosen = outcome.chosen.clone();
            let mut steps: Vec<Step> = (0..self.initial)
                .chain(self.seeded_steps(&chosen))
                .filter(|c| !chosen.contains(c) && !barred.contains(c))
                .map(|add| Step {
                    add,
                    replaces: None,
                })
                .collect();
            for c in chosen.clone() {
                for add in self.widenings(c, whatif) {
                    if !chosen.contains(&add) && !barred.contains(&add) {
                        steps.push(Step {
                            add,
                            replaces: Some(c),
                        });
                    }
                }
            }
            steps.retain(|step| used_mb + self.size_of(*step) <= budget_mb);
            if steps.is_empty() {
                break;
            }
            let Some(gains) = self.gains(whatif, &outcome, &steps, trace) else {
                break;
            };
            let options: Vec<(Step, f64)> = gains
                .into_iter()
                .zip(&steps)
                .filter(|((_, serves), _)| *serves)
                .map(|((saved, _), step)| (*step, saved - self.writes_of(*step)))
                .filter(|(_, net)| *net > 0.0)
                .collect();
            let Some(best) = options.iter().map(|(_, net)| *net).reduce(f64::max) else {
                break;
            };
            let per_mb = |(step, net): &(Step, f64)| net / self.size_of(*step).max(MIN_STEP_MB);
            let (step, net) = match rank {
                Rank::Benefit => options
                    .iter()
                    .filter(|(_, net)| *net >= best * NEAR_BEST)
                    .min_by(|a, b| {
                        self.size_of(a.0)
                            .total_cmp(&self.size_of(b.0))
                            .then(a.0.add.cmp(&b.0.add))
                    })
                    .copied(),
                Rank::PerMegabyte => options
                    .iter()
                    .max_by(|a, b| per_mb(a).total_cmp(&per_mb(b)).then(b.0.add.cmp(&a.0.add)))
                    .copied(),
            }
            .expect("the best option is among the options");
            trace.push(format!(
                "{rank:?}: candidate {}{} (net {net:.1} ms/h, {:+.1} MB, {} options)",
                step.add,
                step.replaces
                    .map(|r| format!(" in place of {r}"))
                    .unwrap_or_default(),
                self.size_of(step),
                options.len()
            ));
            used_mb += self.size_of(step);
            self.take(whatif, &mut outcome, step);
        }
        outcome
    }
}

/// Greedy selection. `relevant[s]` lists the candidates worth trying on statement `s` (those on
/// its tables that it could use); `min_improvement_pct` applies per statement, to the cost left
/// after the indexes already chosen.
pub fn select(
    loads: &[Load],
    upkeep: &[Upkeep],
    relevant: &[Vec<usize>],
    whatif: &mut dyn WhatIf,
    budget_mb: f64,
    min_improvement_pct: f64,
) -> Selection {
    let mut search = Search {
        loads,
        upkeep: upkeep.to_vec(),
        relevant: relevant.to_vec(),
        widened: HashMap::new(),
        initial: upkeep.len(),
        seeded: Vec::new(),
        min_share: (min_improvement_pct / 100.0).clamp(0.0, 1.0),
        cut_short: false,
    };
    let mut trace = Vec::new();
    let empty = search.empty(whatif);
    search.seed(whatif, &empty);
    let by_benefit = search.greedy(
        whatif,
        budget_mb,
        Rank::Benefit,
        &mut trace,
        empty.clone(),
        &[],
    );
    let by_size = search.greedy(whatif, budget_mb, Rank::PerMegabyte, &mut trace, empty, &[]);
    let (net_benefit, net_size) = (search.net(&by_benefit), search.net(&by_size));
    trace.push(format!(
        "by benefit {:?} saves {net_benefit:.1} ms/h, per megabyte {:?} {net_size:.1} ms/h",
        by_benefit.chosen, by_size.chosen
    ));
    let (mut outcome, rank) = if net_size > net_benefit {
        (by_size, Rank::PerMegabyte)
    } else {
        (by_benefit, Rank::Benefit)
    };
    // exchanges, each followed by filling the room it leaves the same way
    for _ in 0..MAX_EXCHANGES {
        if search.cut_short {
            break;
        }
        if let Some(exchanged) = search.exchange(whatif, budget_mb, &outcome, &mut trace) {
            outcome = search.greedy(whatif, budget_mb, rank, &mut trace, exchanged, &[]);
            continue;
        }
        if search.cut_short {
            break;
        }
        match search.drop_and_refill(whatif, budget_mb, rank, &outcome, &mut trace) {
            Some(refilled) => outcome = refilled,
            None => break,
        }
    }
    let before_pruning = outcome.chosen.clone();
    prune(&mut outcome, &search.upkeep, whatif, search.min_share);
    trace.push(format!(
        "chosen {before_pruning:?}, kept {:?} after pruning",
        outcome.chosen
    ));
    let mut selection = attribute(&outcome, loads, &search.upkeep, whatif);
    selection.trace = trace;
    selection.upkeep = search.upkeep;
    selection.complete = !search.cut_short;
    selection
}

/// Drops, smallest first, each chosen index whose statements the others serve about as well
/// (within `min_share` of what is left of their cost): greedy choice can take a narrow index
/// first and a wider one later that serves the same statements too.
fn prune(outcome: &mut Outcome, upkeep: &[Upkeep], whatif: &mut dyn WhatIf, min_share: f64) {
    let mut by_size = outcome.chosen.clone();
    by_size.sort_by(|a, b| upkeep[*a].size_mb.total_cmp(&upkeep[*b].size_mb));
    for x in by_size {
        let mut without: Vec<(usize, Vec<usize>, Option<Eval>)> = Vec::new();
        let mut redundant = true;
        for s in (0..outcome.on.len()).filter(|s| outcome.on[*s].contains(&x)) {
            let rest: Vec<usize> = outcome.on[s].iter().copied().filter(|c| *c != x).collect();
            let e = whatif
                .evaluate(s, std::slice::from_ref(&rest))
                .pop()
                .flatten();
            let with = outcome.now[s].as_ref().map(|e| e.share).unwrap_or(0.0);
            let lost = with - e.as_ref().map(|e| e.share).unwrap_or(0.0);
            let left = 1.0 - e.as_ref().map(|e| e.share).unwrap_or(0.0);
            if lost > 0.0 && left > 0.0 && lost / left >= min_share {
                redundant = false;
                break;
            }
            without.push((s, rest, e));
        }
        if redundant {
            outcome.chosen.retain(|c| *c != x);
            for (s, rest, e) in without {
                outcome.on[s] = rest;
                outcome.now[s] = e;
            }
        }
    }
}

/// Each chosen index is credited with what its statements would lose without it; an index no
/// plan uses, or that costs more than it saves, is left out.
fn attribute(
    outcome: &Outcome,
    loads: &[Load],
    upkeep: &[Upkeep],
    whatif: &mut dyn WhatIf,
) -> Selection {
    let Outcome { chosen, on, now } = outcome;
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
                .evaluate(s, &[rest])
                .pop()
                .flatten()
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
        upkeep: Vec::new(),
        complete: true,
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
        /// (candidate, its widening, the widening's upkeep)
        widenings: Vec<(usize, usize, Upkeep)>,
        calls: usize,
        /// Time is up once this many sets were planned.
        up_after: Option<usize>,
    }

    impl Table {
        fn new(shares: &[(usize, usize, f64)]) -> Table {
            Table {
                shares: shares.to_vec(),
                pairs: Vec::new(),
                widenings: Vec::new(),
                calls: 0,
                up_after: None,
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
        fn evaluate(&mut self, s: usize, sets: &[Vec<usize>]) -> Vec<Option<Eval>> {
            self.calls += sets.len();
            sets.iter().map(|set| Some(self.eval(s, set))).collect()
        }

        fn widen(&mut self, c: usize) -> Vec<(usize, Upkeep)> {
            self.widenings
                .iter()
                .filter(|(from, _, _)| *from == c)
                .map(|(_, to, keep)| (*to, keep.clone()))
                .collect()
        }

        fn time_is_up(&self) -> bool {
            self.up_after.is_some_and(|n| self.calls >= n)
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
    fn a_chosen_index_is_widened_when_one_more_key_column_serves_more() {
        // 0: (a) serves both statements; its widening 1: (a, b) also lets statement 1 skip
        // the table
        let loads = [load(1, 1000.0, 10.0), load(2, 1000.0, 10.0)];
        let choose_within = |budget_mb: f64| {
            let mut planner = Table::new(&[(0, 0, 0.9), (1, 0, 0.5), (0, 1, 0.9), (1, 1, 0.95)]);
            planner.widenings.push((0, 1, upkeep(12.0, 0.0)));
            select(
                &loads,
                &[upkeep(10.0, 0.0)],
                &all_relevant(2, 1),
                &mut planner,
                budget_mb,
                20.0,
            )
        };
        let chosen = choose_within(1024.0);
        assert_eq!(picked(&chosen), vec![1], "{chosen:?}");
        assert!((chosen.statements[&1].share - 0.95).abs() < 1e-9);
        assert_eq!(chosen.upkeep[1].size_mb, 12.0);
        // without room for the two extra megabytes the narrow index stays
        let chosen = choose_within(11.0);
        assert_eq!(picked(&chosen), vec![0], "{chosen:?}");
    }

    #[test]
    fn many_small_indexes_win_over_one_large_one_when_they_save_more_together() {
        // 0 is large and saves most on its own; 1, 2 and 3 are small, and together save more
        let loads = [
            load(1, 100.0, 100.0),
            load(2, 100.0, 40.0),
            load(3, 100.0, 40.0),
            load(4, 100.0, 40.0),
        ];
        let small = [
            upkeep(90.0, 0.0),
            upkeep(30.0, 0.0),
            upkeep(30.0, 0.0),
            upkeep(30.0, 0.0),
        ];
        let shares = [(0, 0, 0.9), (1, 1, 0.9), (2, 2, 0.9), (3, 3, 0.9)];
        let mut planner = Table::new(&shares);
        let chosen = select(
            &loads,
            &small,
            &vec![vec![0, 1, 2, 3]; 4],
            &mut planner,
            100.0,
            20.0,
        );
        // taking the best first leaves room for nothing else: 9000 ms/h; the three small
        // ones save 10800 ms/h
        assert_eq!(picked(&chosen), vec![1, 2, 3], "{chosen:?}");
        // with room for the large one only, it is taken
        let mut planner = Table::new(&shares);
        let chosen = select(
            &loads,
            &[
                upkeep(90.0, 0.0),
                upkeep(95.0, 0.0),
                upkeep(95.0, 0.0),
                upkeep(95.0, 0.0),
            ],
            &vec![vec![0, 1, 2, 3]; 4],
            &mut planner,
            100.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![0], "{chosen:?}");
    }

    #[test]
    fn an_index_the_later_choices_make_redundant_is_exchanged_for_one_that_did_not_fit() {
        // 0: X serves statement 0 alone; 1: Y and 2: W serve it better together (a join), and
        // statements 1 and 2 each; 3: Z serves statement 3 but no longer fits once X, Y and W
        // are chosen (best value per megabyte first: X, then Y, then W)
        let loads = [
            load(1, 100.0, 10.0),
            load(2, 100.0, 6.0),
            load(3, 100.0, 5.0),
            load(4, 100.0, 7.0),
        ];
        let sizes = [
            upkeep(40.0, 0.0),
            upkeep(30.0, 0.0),
            upkeep(30.0, 0.0),
            upkeep(40.0, 0.0),
        ];
        let mut planner = Table::new(&[(0, 0, 0.9), (1, 1, 0.9), (2, 2, 0.9), (3, 3, 0.9)]);
        planner.pairs.push((0, 1, 2, 0.95));
        let chosen = select(
            &loads,
            &sizes,
            &all_relevant(4, 4),
            &mut planner,
            100.0,
            20.0,
        );
        let mut set = picked(&chosen);
        set.sort_unstable();
        // without the exchange X would be pruned, leaving 40 MB unused and statement 3 as it is
        assert_eq!(set, vec![1, 2, 3], "{chosen:?}");
        assert!(
            chosen
                .trace
                .iter()
                .any(|t| t.starts_with("exchange: candidate 3 in place of 0")),
            "{:?}",
            chosen.trace
        );
        assert!((chosen.statements[&3].share - 0.9).abs() < 1e-9);
        assert!((chosen.statements[&0].share - 0.95).abs() < 1e-9);
    }

    #[test]
    fn one_large_index_gives_way_to_two_smaller_ones_that_serve_its_statements_apart() {
        // 0: X (60 MB) serves both statements fairly; 1: Y and 2: Z (40 MB each) serve one each
        // well. X is the best step by benefit and per megabyte, and no single exchange beats it
        // (Y alone saves less), but Y and Z together save more and fit where X was.
        let loads = [load(1, 100.0, 10.0), load(2, 100.0, 10.0)];
        let sizes = [upkeep(60.0, 0.0), upkeep(40.0, 0.0), upkeep(40.0, 0.0)];
        let mut planner = Table::new(&[(0, 0, 0.8), (1, 0, 0.8), (0, 1, 0.95), (1, 2, 0.95)]);
        let chosen = select(
            &loads,
            &sizes,
            &all_relevant(2, 3),
            &mut planner,
            80.0,
            20.0,
        );
        let mut set = picked(&chosen);
        set.sort_unstable();
        assert_eq!(set, vec![1, 2], "{:?}", chosen.trace);
        assert!(
            !chosen.trace.iter().any(|t| t.starts_with("exchange:")),
            "{:?}",
            chosen.trace
        );
        assert!(
            chosen
                .trace
                .iter()
                .any(|t| t.starts_with("drop and refill: [1, 2] in place of candidate 0")),
            "{:?}",
            chosen.trace
        );
        assert!((chosen.statements[&0].share - 0.95).abs() < 1e-9);
        assert!((chosen.statements[&1].share - 0.95).abs() < 1e-9);
    }

    #[test]
    fn a_widening_whose_narrow_key_alone_would_not_be_chosen_is_weighed_on_its_own() {
        // 0: (a), a join key, serves statement 0 a little; 1: (b) and 2: (b2) serve statement 2;
        // 3: (a, q), the widening of 0, serves statements 0 and 1 well. One index fits: 1 beats
        // 0, and 2 beats 0 where 1 is dropped, so a search that widens only what it chose never
        // weighs 3.
        let loads = [
            load(1, 100.0, 10.0),
            load(2, 100.0, 10.0),
            load(3, 100.0, 10.0),
        ];
        let sizes = [upkeep(38.0, 0.0), upkeep(40.0, 0.0), upkeep(40.0, 0.0)];
        let mut planner = Table::new(&[
            (0, 0, 0.5),
            (2, 1, 0.7),
            (2, 2, 0.68),
            (0, 3, 0.95),
            (1, 3, 0.95),
        ]);
        planner.widenings = vec![(0, 3, upkeep(40.0, 0.0))];
        let chosen = select(
            &loads,
            &sizes,
            &all_relevant(3, 3),
            &mut planner,
            45.0,
            20.0,
        );
        assert_eq!(picked(&chosen), vec![3], "{:?}", chosen.trace);
        assert!((chosen.choices[0].ms_saved_per_hour - 1900.0).abs() < 1e-9);
        assert_eq!(chosen.choices[0].helped, vec![(0, 0.95), (1, 0.95)]);
    }

    #[test]
    fn when_time_is_up_the_search_keeps_the_steps_it_finished_and_says_so() {
        let loads = [load(1, 1000.0, 10.0), load(2, 500.0, 10.0)];
        let upkeep = [upkeep(10.0, 0.0), upkeep(10.0, 0.0)];
        let run = |up_after: Option<usize>| {
            let mut planner = Table::new(&[(0, 0, 0.9), (1, 1, 0.9)]);
            planner.up_after = up_after;
            select(
                &loads,
                &upkeep,
                &all_relevant(2, 2),
                &mut planner,
                1024.0,
                20.0,
            )
        };
        let unbounded = run(None);
        assert_eq!(picked(&unbounded), vec![0, 1]);
        assert!(unbounded.complete);
        assert!(!unbounded.trace.iter().any(|t| t.starts_with("time is up")));

        let at_once = run(Some(0));
        assert!(picked(&at_once).is_empty());
        assert!(!at_once.complete);
        assert!(at_once.trace.iter().any(|t| t.starts_with("time is up")));

        // every bound either lets the search finish, or stops it between two steps: the first
        // step alone is kept when the second was not weighed in full
        let mut cut = Vec::new();
        for limit in 0..60 {
            let selection = run(Some(limit));
            if selection.complete {
                assert_eq!(picked(&selection), vec![0, 1], "bound {limit}");
            } else {
                cut.push(picked(&selection));
            }
        }
        assert!(cut.contains(&vec![0]), "{cut:?}");
        assert!(
            cut.iter().all(|p| [0, 1].starts_with(p)),
            "only finished steps are kept: {cut:?}"
        );
        assert!(run(Some(59)).complete);
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
