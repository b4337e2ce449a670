//! Index suggestions from the model go through the what-if advisor like the rules' proposals:
//! only those it selects for the statement become recommendations (source `ai`).

use crate::advisor::workload::Advice;
use crate::analysis::{self, Examined, Verdict};
use crate::plans::explain::in_rolled_back_subtransaction;
use crate::plans::repair::Token;
use crate::rules::{quote_ident, Finding, Kind, StatementFigures};
use crate::statements::{self, HotStatement};
use crate::whatif::hypo;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi;
use std::ffi::CStr;

/// A suggested `CREATE INDEX` in OptiSchema's own form: no name, CONCURRENTLY, the table
/// schema-qualified; and its fingerprint target. None when the server rejects it.
fn canonical(suggestion: &str) -> Option<(String, String)> {
    let sql = suggestion
        .trim()
        .trim_end_matches(';')
        .trim_end()
        .to_string();
    in_rolled_back_subtransaction(|| {
        let index = hypo::define(&sql, 0);
        let (schema, table) = unsafe {
            (
                CStr::from_ptr(pg_sys::get_namespace_name(pg_sys::get_rel_namespace(
                    index.relid,
                )))
                .to_string_lossy()
                .into_owned(),
                CStr::from_ptr(pg_sys::get_rel_name(index.relid))
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        let tokens = crate::plans::lexer::tokens(&sql);
        let on = tokens
            .iter()
            .position(|t| matches!(t, Token::Keyword { word, .. } if word == "on"))?;
        let mut i = on + 1;
        if matches!(tokens.get(i), Some(Token::Keyword { word, .. }) if word == "only") {
            i += 1;
        }
        // the table's name, possibly qualified
        loop {
            match tokens.get(i) {
                Some(Token::Ident { .. }) | Some(Token::Keyword { .. }) => i += 1,
                _ => return None,
            }
            match tokens.get(i) {
                Some(Token::Other { text, .. }) if text == "." => i += 1,
                _ => break,
            }
        }
        let rest = tokens.get(i).map(|t| sql[t.at()..].to_string())?;
        let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        let qualified = format!("{}.{}", quote_ident(&schema), quote_ident(&table));
        Some((
            format!("CREATE INDEX CONCURRENTLY ON {qualified} {rest}"),
            format!("{qualified} {rest}"),
        ))
    })
    .ok()
    .flatten()
}

/// The suggestions the advisor selects for statement `queryid`, beside the rules' own
/// proposals (which win when they are as good).
pub fn selected(queryid: i64, suggestions: &[String]) -> spi::Result<Vec<Advice>> {
    let findings: Vec<Finding> = suggestions
        .iter()
        .filter_map(|s| canonical(s))
        .map(|(sql, target)| Finding {
            rule: "ai_index",
            kind: Kind::Index,
            title: format!("Index suggested by the model: {target}"),
            explanation: "Suggested by the model, checked by the what-if advisor: the planner uses it and it saves the minimum share.".into(),
            evidence: serde_json::json!({}),
            est_cost_before: None,
            est_cost_after: None,
            confidence: 0.5,
            target,
            sql,
        })
        .collect();
    if findings.is_empty() {
        return Ok(Vec::new());
    }
    let statement = match statements::hot_statements(1, Some(queryid))?.pop() {
        Some(hot) => hot,
        None => {
            let Some(query) = Spi::get_one_with_args::<String>(
                "SELECT (SELECT query FROM optischema.statements WHERE queryid = $1)",
                &[queryid.into()],
            )?
            else {
                return Ok(Vec::new());
            };
            HotStatement {
                query,
                figures: StatementFigures {
                    queryid,
                    calls: 1,
                    total_ms: 1.0,
                    window_hours: 1.0,
                    ..Default::default()
                },
            }
        }
    };
    let Verdict::Findings {
        plan,
        findings: own,
        custom,
        ..
    } = analysis::examine(&statement)?
    else {
        return Ok(Vec::new());
    };
    let examined = Examined {
        statement,
        plan,
        // the rules' proposals first: between equals the advisor keeps the first
        findings: own.into_iter().chain(findings).collect(),
        custom: custom.unwrap_or_default(),
    };
    Ok(analysis::advise(std::slice::from_ref(&examined))?
        .into_iter()
        .filter(|a| a.finding.rule == "ai_index")
        .collect())
}
