import aws.sdk.kotlin.services.cloudwatchlogs.CloudWatchLogsClient
import aws.sdk.kotlin.services.cloudwatchlogs.model.PutLogEventsRequest

suspend fun audit(request: PutLogEventsRequest) {
    val logs = CloudWatchLogsClient.fromEnvironment()
    logs.putLogEvents(request)
}
