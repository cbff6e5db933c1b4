const AWS = require('aws-sdk');

const idp = new AWS.CognitoIdentityServiceProvider();

async function invite(poolId, email) {
  await idp.adminCreateUser({ UserPoolId: poolId, Username: email }).promise();
  return idp.listUsers({ UserPoolId: poolId }).promise();
}

async function notify(email) {
  return new AWS.SES().sendEmail({ Source: 'noreply@example.com', Destination: { ToAddresses: [email] }, Message: {} }).promise();
}

module.exports = { invite, notify };
