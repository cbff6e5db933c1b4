# S3 from Ruby with no endpoint and no credentials: aws-sdk-s3 as Debian ships it.
require 'aws-sdk-s3'

s3 = Aws::S3::Client.new
s3.create_bucket(bucket: 'ruby-bucket')
s3.put_object(bucket: 'ruby-bucket', key: 'hello.txt', body: 'hello from ruby')
puts "ruby read: #{s3.get_object(bucket: 'ruby-bucket', key: 'hello.txt').body.read}"
puts 'ruby done'
$stdout.flush
sleep
