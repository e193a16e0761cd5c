/// Answers what no route matches: needs no table and no secret.
fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_static(shared::api::unmatched)
}
