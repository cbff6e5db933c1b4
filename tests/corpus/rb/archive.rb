require 'aws-sdk-s3'
require 'aws-sdk-sqs'

class Archiver
  def initialize(bucket)
    @bucket = bucket
    @s3 = Aws::S3::Client.new
    @queue = Aws::SQS::Client.new(region: ENV.fetch('AWS_REGION', 'eu-west-1'))
  end

  def archive(key, body)
    @s3.put_object(bucket: @bucket, key: key, body: body)
    @queue.send_message(queue_url: ENV['DONE_QUEUE'], message_body: key)
  end
end
