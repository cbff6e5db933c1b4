import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';

const sqs = new SQSClient({});
const secrets = new SecretsManagerClient({});
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/jobs';

export async function enqueue(job) {
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: 'jobs/token' }));
  return sqs.send(new SendMessageCommand({ QueueUrl: QUEUE, MessageBody: JSON.stringify({ job, SecretString }) }));
}
