fn main() -> Result<(), shared::lambda::Error> {
    shared::lambda::serve_stream(shared::stream::StreamHandler::Events)
}
