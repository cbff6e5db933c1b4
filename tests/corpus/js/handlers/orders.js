const { ReceiveMessageCommand, DeleteMessageCommand } = require("@aws-sdk/client-sqs");
const { GetSecretValueCommand } = require("@aws-sdk/client-secrets-manager");
const { queueClient, secretsClient } = require("../lib/clients");

const queue = queueClient();
const secrets = secretsClient();

async function poll(url) {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: "orders/db" }));
  const { Messages = [] } = await queue.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
  for (const m of Messages) {
    await queue.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
  }
  return SecretString;
}

module.exports = { poll };
