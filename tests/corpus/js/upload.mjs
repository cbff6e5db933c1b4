import { S3Client, PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";

const s3 = new S3Client({});
export async function upload(body) {
  await s3.send(new PutObjectCommand({ Bucket: "uploads", Key: "a", Body: body }));
  return s3.send(new GetObjectCommand({ Bucket: "uploads", Key: "a" }));
}
export async function record(doc) {
  return doc.send(new PutCommand({ TableName: "uploads", Item: {} }));
}
