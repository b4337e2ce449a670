//! A typed model of `EXPLAIN (FORMAT JSON, VERBOSE)` output. Pure Rust: every rule works on
//! these values, so rules are tested on fixture plans without a server.

use serde::{Deserialize, Serialize};

/// One element of the JSON array EXPLAIN returns.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Explained {
    #[serde(rename = "Plan")]
    pub plan: PlanNode,
    /// Present with VERBOSE when `compute_query_id` is on: pg_stat_statements' queryid.
    #[serde(rename = "Query Identifier", default)]
    pub query_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PlanNode {
    #[serde(rename = "Node Type")]
    pub node_type: String,
    #[serde(
        rename = "Parent Relationship",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_relationship: Option<String>,
    #[serde(
        rename = "Relation Name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub relation: Option<String>,
    #[serde(rename = "Schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(rename = "Alias", default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(
        rename = "Index Name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub index: Option<String>,
    #[serde(rename = "Join Type", default, skip_serializing_if = "Option::is_none")]
    pub join_type: Option<String>,
    #[serde(rename = "Strategy", default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(rename = "Filter", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(
        rename = "Index Cond",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub index_cond: Option<String>,
    #[serde(
        rename = "Recheck Cond",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recheck_cond: Option<String>,
    #[serde(
        rename = "Join Filter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub join_filter: Option<String>,
    #[serde(rename = "Hash Cond", default, skip_serializing_if = "Option::is_none")]
    pub hash_cond: Option<String>,
    #[serde(
        rename = "Merge Cond",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub merge_cond: Option<String>,
    #[serde(rename = "Sort Key", default, skip_serializing_if = "Vec::is_empty")]
    pub sort_key: Vec<String>,
    #[serde(rename = "Group Key", default, skip_serializing_if = "Vec::is_empty")]
    pub group_key: Vec<String>,
    #[serde(rename = "Output", default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
    #[serde(rename = "Startup Cost", default)]
    pub startup_cost: f64,
    #[serde(rename = "Total Cost", default)]
    pub total_cost: f64,
    #[serde(rename = "Plan Rows", default)]
    pub plan_rows: f64,
    #[serde(rename = "Plan Width", default)]
    pub plan_width: i64,
    #[serde(
        rename = "Workers Planned",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub workers_planned: Option<i64>,
    #[serde(rename = "Plans", default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<PlanNode>,
}

impl Explained {
    /// Parses what `EXPLAIN (FORMAT JSON)` returns: a one-element array.
    pub fn from_json(text: &str) -> Result<Explained, serde_json::Error> {
        let mut all: Vec<Explained> = serde_json::from_str(text)?;
        if all.len() != 1 {
            return Err(serde::de::Error::custom(format!(
                "expected one plan, found {}",
                all.len()
            )));
        }
        Ok(all.remove(0))
    }
}

impl PlanNode {
    /// This node and all below it, depth first, parents before children.
    pub fn walk(&self) -> Vec<&PlanNode> {
        fn visit<'a>(node: &'a PlanNode, out: &mut Vec<&'a PlanNode>) {
            out.push(node);
            for child in &node.children {
                visit(child, out);
            }
        }
        let mut out = Vec::new();
        visit(self, &mut out);
        out
    }

    /// True for the nodes that read a table (sequential, index, bitmap heap scans...).
    pub fn is_scan(&self) -> bool {
        self.relation.is_some()
    }

    pub fn is_seq_scan(&self) -> bool {
        self.node_type == "Seq Scan"
    }

    /// Schema-qualified relation name, when the plan was made with VERBOSE.
    pub fn qualified_relation(&self) -> Option<String> {
        let rel = self.relation.as_deref()?;
        Some(match self.schema.as_deref() {
            Some(schema) => format!("{schema}.{rel}"),
            None => rel.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Explained {
        let path = format!(
            "{}/src/plans/fixtures/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        Explained::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn top_n_over_a_parallel_seq_scan() {
        let e = fixture("orders_by_customer_topn");
        assert_eq!(e.query_id, Some(-2917181505027531810));
        let kinds: Vec<&str> = e.plan.walk().iter().map(|n| n.node_type.as_str()).collect();
        assert_eq!(kinds, ["Limit", "Gather Merge", "Sort", "Seq Scan"]);
        let scan = e.plan.walk().into_iter().find(|n| n.is_seq_scan()).unwrap();
        assert_eq!(scan.qualified_relation().as_deref(), Some("public.orders"));
        assert_eq!(scan.filter.as_deref(), Some("(orders.customer_id = $1)"));
        assert_eq!(scan.total_cost, 14566.79);
        assert_eq!(scan.plan_rows, 2.0);
        let sort = &e.plan.children[0].children[0];
        assert_eq!(sort.sort_key, ["orders.created_at DESC"]);
        assert_eq!(e.plan.children[0].workers_planned, Some(2));
    }

    #[test]
    fn join_keeps_both_sides_in_order() {
        let e = fixture("order_detail_join");
        assert_eq!(e.plan.node_type, "Nested Loop");
        assert_eq!(e.plan.join_type.as_deref(), Some("Inner"));
        let scans: Vec<(&str, &str)> = e
            .plan
            .walk()
            .into_iter()
            .filter(|n| n.is_scan())
            .map(|n| (n.alias.as_deref().unwrap(), n.index.as_deref().unwrap()))
            .collect();
        assert_eq!(scans, [("i", "order_items_pkey"), ("p", "products_pkey")]);
        assert_eq!(
            e.plan.children[1].parent_relationship.as_deref(),
            Some("Inner")
        );
        assert_eq!(
            e.plan.children[1].index_cond.as_deref(),
            Some("(p.id = i.product_id)")
        );
    }

    #[test]
    fn aggregate_and_hash_join_fields() {
        let e = fixture("orders_customers_hash_agg");
        let nodes = e.plan.walk();
        assert!(nodes.iter().any(|n| n.hash_cond.is_some()));
        assert!(nodes
            .iter()
            .any(|n| n.strategy.is_some() && !n.group_key.is_empty()));
    }

    #[test]
    fn rejects_anything_but_one_plan() {
        assert!(Explained::from_json("[]").is_err());
        assert!(Explained::from_json("{\"Plan\": 1}").is_err());
    }

    #[test]
    fn serializes_back_without_empty_fields() {
        let e = fixture("product_pk");
        let text = serde_json::to_string(&e.plan).unwrap();
        assert!(!text.contains("\"Plans\""));
        assert!(text.contains("\"Index Cond\""));
        assert_eq!(serde_json::from_str::<PlanNode>(&text).unwrap(), e.plan);
    }
}
