pub fn run(_r: &mut crate::common::Report, _i: bool, _s: bool) {}
