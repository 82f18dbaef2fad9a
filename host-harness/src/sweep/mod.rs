//! `sluice sweep`: one scenario template run across a grid of workloads,
//! each cell judged by the same checks, so that a control loop is shown to
//! hold on workloads nobody tuned it for rather than on a few hand-picked
//! scenarios.
//!
//! A cell may first run a **baseline** of itself (for example the same
//! traffic at half capacity) whose measures the cell's checks can use, so
//! a bound such as "admitted p99 at most twice the uncongested p99" is
//! relative to that cell's own service-time distribution.
//!
//! - [`spec`]: the sweep file (axes, derived values, checks).
//! - [`expr`]: the arithmetic the derived values and bounds are written in.
//! - [`run`]: runs every cell (on several threads) and judges it.
//! - [`render`]: the terminal table and the HTML heatmap.

pub mod expr;
pub mod render;
pub mod run;
pub mod spec;

pub use run::{run, CellOutcome, SweepOutcome};
