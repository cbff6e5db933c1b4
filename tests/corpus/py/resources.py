import boto3

dynamodb = boto3.resource("dynamodb")
orders = dynamodb.Table("orders")
s3 = boto3.client("s3")


def store(order, path):
    orders.put_item(Item=order)
    s3.upload_file(path, "receipts", f"{order['id']}.pdf")
    boto3.client("dynamodb").get_waiter("table_exists")
