use aws_sdk_kinesis::primitives::Blob;

#[tokio::main]
async fn main() -> Result<(), aws_sdk_kinesis::Error> {
    let config = aws_config::load_from_env().await;
    let kinesis = aws_sdk_kinesis::Client::new(&config);
    kinesis
        .put_record()
        .stream_name("clicks")
        .partition_key("p")
        .data(Blob::new("x"))
        .send()
        .await?;
    Ok(())
}
