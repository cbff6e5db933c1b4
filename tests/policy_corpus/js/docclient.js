const AWS = require('aws-sdk');

const docs = new AWS.DynamoDB.DocumentClient({ region: process.env.AWS_REGION });
const s3 = new AWS.S3();
const TABLE = 'sessions';

exports.save = async (session) => {
  await docs.put({ TableName: TABLE, Item: session }).promise();
  const found = await docs.get({ TableName: TABLE, Key: { id: session.id } }).promise();
  await docs.query({ TableName: TABLE, KeyConditionExpression: 'id = :id', ExpressionAttributeValues: { ':id': session.id } }).promise();
  await s3.upload({ Bucket: 'session-archive', Key: `${session.id}.json`, Body: JSON.stringify(found) }).promise();
  return s3.getObject({ Bucket: 'session-archive', Key: 'index.json' }).promise();
};
