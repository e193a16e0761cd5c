fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_http(shared::routes::Route::ListAudit)
}
