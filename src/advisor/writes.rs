//! What a new index costs the writes on its table. Pure.
//!
//! Every row inserted gets an entry in every index; a row updated gets one only when the update
//! cannot be HOT, that is when it changes a column some index uses. So an index on a column the
//! updates change costs those updates an entry each, and when no index used such a column
//! before, it also takes HOT away: every index of the table gets an entry per updated row.
//! Deletes add nothing at the time (vacuum cleans up later).
//!
//! The time of one index entry is not measured directly; it is estimated from the writes
//! themselves: a row's write time spread evenly over the heap and each index it touches.

/// The writes on one table over the analysed window, per hour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableWrites {
    pub inserted_rows_per_hour: f64,
    pub insert_ms_per_hour: f64,
    pub updates: Vec<UpdateLoad>,
    pub delete_ms_per_hour: f64,
    /// Indexes the table has now.
    pub existing_indexes: usize,
    /// Columns those indexes use (keys, INCLUDE, expressions, predicates).
    pub indexed_columns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateLoad {
    pub rows_per_hour: f64,
    pub ms_per_hour: f64,
    /// Columns the statement assigns.
    pub columns: Vec<String>,
}

impl TableWrites {
    pub fn ms_per_hour(&self) -> f64 {
        self.insert_ms_per_hour
            + self.updates.iter().map(|u| u.ms_per_hour).sum::<f64>()
            + self.delete_ms_per_hour
    }

    /// Time of one index entry: a written row's time over the heap and its index entries.
    fn entry_ms(&self) -> f64 {
        let writers = 1.0 + self.existing_indexes as f64;
        if self.inserted_rows_per_hour > 0.0 {
            return self.insert_ms_per_hour / self.inserted_rows_per_hour / writers;
        }
        let (rows, ms) = self.updates.iter().fold((0.0, 0.0), |(r, m), u| {
            (r + u.rows_per_hour, m + u.ms_per_hour)
        });
        if rows > 0.0 {
            ms / rows / writers
        } else {
            0.0
        }
    }

    /// Index maintenance per hour an index using `columns` adds, and that as a percentage of the
    /// table's write time now.
    pub fn cost_of_index(&self, columns: &[String]) -> (f64, f64) {
        let entry = self.entry_ms();
        let mut ms = self.inserted_rows_per_hour * entry;
        for update in &self.updates {
            let touches = |c: &String| columns.contains(c);
            if !update.columns.iter().any(touches) {
                continue;
            }
            let hot_today = !update
                .columns
                .iter()
                .any(|c| self.indexed_columns.contains(c));
            let entries = if hot_today {
                // HOT lost: the new index and every existing one get an entry
                1.0 + self.existing_indexes as f64
            } else {
                1.0
            };
            ms += update.rows_per_hour * entry * entries;
        }
        let total = self.ms_per_hour();
        let pct = if total > 0.0 { ms / total * 100.0 } else { 0.0 };
        (ms, pct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn inserts_pay_one_entry_per_row() {
        // 1000 rows/h taking 4000 ms: heap + 3 indexes, 1 ms each
        let writes = TableWrites {
            inserted_rows_per_hour: 1000.0,
            insert_ms_per_hour: 4000.0,
            existing_indexes: 3,
            ..Default::default()
        };
        let (ms, pct) = writes.cost_of_index(&cols(&["a"]));
        assert!((ms - 1000.0).abs() < 1e-9);
        assert!((pct - 25.0).abs() < 1e-9);
    }

    #[test]
    fn an_index_on_an_updated_column_takes_hot_away() {
        let writes = TableWrites {
            inserted_rows_per_hour: 100.0,
            insert_ms_per_hour: 200.0, // heap + 1 index: 1 ms per entry
            updates: vec![UpdateLoad {
                rows_per_hour: 1000.0,
                ms_per_hour: 500.0,
                columns: cols(&["status"]),
            }],
            existing_indexes: 1,
            indexed_columns: cols(&["id"]),
            ..Default::default()
        };
        // not touching the updated column: inserts only
        assert!((writes.cost_of_index(&cols(&["created_at"])).0 - 100.0).abs() < 1e-9);
        // touching it: each updated row now needs an entry in both indexes
        assert!((writes.cost_of_index(&cols(&["status"])).0 - (100.0 + 2000.0)).abs() < 1e-9);
        // when updates were not HOT already, only the new index's entry is added
        let not_hot = TableWrites {
            indexed_columns: cols(&["id", "status"]),
            ..writes
        };
        assert!((not_hot.cost_of_index(&cols(&["status"])).0 - (100.0 + 1000.0)).abs() < 1e-9);
    }

    #[test]
    fn a_table_nobody_writes_costs_nothing() {
        let (ms, pct) = TableWrites::default().cost_of_index(&cols(&["a"]));
        assert_eq!((ms, pct), (0.0, 0.0));
    }
}
