/// Serves static files only, so it builds no DynamoDB client and holds no secret.
fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_static(functions::dashboard::handle)
}
