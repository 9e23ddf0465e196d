//! The merge logic, with time passed in.

use super::*;
