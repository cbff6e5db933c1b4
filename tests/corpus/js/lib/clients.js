// One place that builds the service clients, so handlers share configuration.
import { SQSClient } from "@aws-sdk/client-sqs";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

const region = process.env.AWS_REGION ?? "eu-west-1";

export const queueClient = () => new SQSClient({ region });

export function secretsClient() {
  return new SecretsManagerClient({ region, maxAttempts: 5 });
}
