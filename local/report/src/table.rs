//! Tables with a header row, columns as wide as their widest cell (in
//! characters).

/// A header and rows of cells. A row shorter than the header has empty cells
/// at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Adds rows.
    pub fn rows<R: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        rows: impl IntoIterator<Item = R>,
    ) -> Table {
        for row in rows {
            self.row(row);
        }
        self
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn columns(&self) -> usize {
        self.rows.iter().map(Vec::len).fold(self.header.len(), usize::max)
    }

    /// The width of each column: its widest cell, header included, and at
    /// least `min`.
    fn widths(&self, min: usize) -> Vec<usize> {
        (0..self.columns())
            .map(|i| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .filter_map(|r| r.get(i))
                    .map(|c| c.chars().count())
                    .fold(min, usize::max)
            })
            .collect()
    }

    /// For a terminal (`hlx list`): every column left-aligned, two spaces
    /// apart, no trailing spaces.
    ///
    /// ```text
    /// ID       STATUS
    /// a        QUEUED
    /// long-id  COMPLETED
    /// ```
    pub fn to_text(&self) -> String {
        let widths = self.widths(0);
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = w - cell.chars().count();
                out.push_str(cell);
                out.push_str(&" ".repeat(pad + 2));
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            out
        };
        std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|r| line(r))
            .collect()
    }

    /// Aligned Markdown (RESULTS.md, and the benchmarks' terminal output, which
    /// reads the same): the first column left-aligned, the others
    /// right-aligned (they are figures), every column at least 3 wide.
    ///
    /// ```text
    /// | function  |  ms |
    /// | --------- | --: |
    /// | start-job | 3.1 |
    /// ```
    pub fn to_markdown(&self) -> String {
        let widths = self.widths(3);
        let line = |cells: &[String]| {
            let mut out = String::from("|");
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = " ".repeat(w - cell.chars().count());
                if i == 0 {
                    out.push_str(&format!(" {cell}{pad} |"));
                } else {
                    out.push_str(&format!(" {pad}{cell} |"));
                }
            }
            out.push('\n');
            out
        };
        let mut out = line(&self.header);
        out.push('|');
        for (i, w) in widths.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!(" {} |", "-".repeat(*w)));
            } else {
                out.push_str(&format!(" {}: |", "-".repeat(w - 1)));
            }
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_align_left_without_trailing_spaces() {
        let t = Table::new(["ID", "STATUS"]).rows([["a", "QUEUED"], ["long-id", "COMPLETED"]]);
        assert_eq!(
            t.to_text(),
            "ID       STATUS\na        QUEUED\nlong-id  COMPLETED\n"
        );
        let t = Table::new(["ID", "NOTE", "X"]).rows([vec!["ü", "", ""], vec!["b", "long note", "1"]]);
        assert_eq!(t.to_text(), "ID  NOTE       X\nü\nb   long note  1\n");
    }

    #[test]
    fn markdown_aligns_figures_right() {
        let mut t = Table::new(["function", "ms"]);
        t.row(["start-job", "3.1"]);
        assert_eq!(
            t.to_markdown(),
            "| function  |  ms |\n| --------- | --: |\n| start-job | 3.1 |\n"
        );
    }

    #[test]
    fn short_rows_have_empty_cells_and_long_ones_widen_the_table() {
        let t = Table::new(["a", "b"]).rows([vec!["1"], vec!["1", "2", "3"]]);
        assert_eq!(t.to_text(), "a  b\n1\n1  2  3\n");
        assert_eq!(
            t.to_markdown(),
            "| a   |   b |     |\n| --- | --: | --: |\n| 1   |     |     |\n| 1   |   2 |   3 |\n"
        );
        assert!(Table::new(["a"]).is_empty());
    }
}
