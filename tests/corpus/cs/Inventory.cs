using System.Threading.Tasks;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

public class Inventory
{
    private readonly AmazonDynamoDBClient _db = new AmazonDynamoDBClient();

    public async Task Reserve(string sku)
    {
        var request = new UpdateItemRequest { TableName = "inventory" };
        await _db.UpdateItemAsync(request);
    }
}
