import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.SQSEvent;
import software.amazon.awssdk.services.sqs.SqsClient;

public class Handler implements RequestHandler<SQSEvent, Void> {
    private final SqsClient sqs = SqsClient.builder().build();

    public Void handleRequest(SQSEvent event, Context context) {
        sqs.deleteMessage(b -> b.queueUrl("u").receiptHandle("r"));
        return null;
    }
}
