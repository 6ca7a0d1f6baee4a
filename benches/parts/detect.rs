pub fn run(_r: &mut crate::common::Report) {}
