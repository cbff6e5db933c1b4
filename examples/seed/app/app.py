"""The seed's scenario with no endpoint and no credentials, then a tiny HTTP service."""
import http.server, json, os, tempfile, urllib.request
import boto3

s3 = boto3.client("s3")
print("buckets:", [b["Name"] for b in s3.list_buckets()["Buckets"]], flush=True)
s3.create_bucket(Bucket="shop-uploads")
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
    handle.write("hello from the app\n")
s3.upload_file(handle.name, "shop-uploads", "greeting.txt")
ddb = boto3.resource("dynamodb")
try:
    ddb.create_table(TableName="users", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
except ddb.meta.client.exceptions.ResourceInUseException:
    pass
table = ddb.Table("users")
table.put_item(Item={"id": "42", "name": "Ada"})
print("user:", table.get_item(Key={"id": "42"})["Item"]["name"], flush=True)
sqs = boto3.client("sqs")
url = sqs.create_queue(QueueName="orders")["QueueUrl"]
print("queue url:", url, flush=True)  # https://, as AWS returns it
sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order": 1}))
print("received:", [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])], flush=True)
print("web:", urllib.request.urlopen("http://web/", timeout=10).read().decode().strip(), flush=True)
# HTTPS to a non-AWS service: passed through untouched, so its own certificate verifies.
import ssl, time
for _ in range(60):
    if os.path.exists("/tls/cert.pem"):
        break
    time.sleep(1)
context = ssl.create_default_context(cafile="/tls/cert.pem")
print("tlsweb:", urllib.request.urlopen("https://tlsweb/", timeout=10, context=context).read().decode(), flush=True)
print("done", flush=True)

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers(); self.wfile.write(b"app")
http.server.HTTPServer(("", 8000), Ok).serve_forever()
