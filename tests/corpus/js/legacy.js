const AWS = require("aws-sdk");
const sns = new AWS.SNS();
// new AWS.SQS() is not used any more
module.exports.notify = (message) => sns.publish({ TopicArn: process.env.TOPIC, Message: message }).promise();
