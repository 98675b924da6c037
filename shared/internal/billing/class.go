package billing

// Class is how AWS bills a request.
type Class string

// Classes of requests.
const (
	SQSRequest    Class = "sqs"           // any SQS API call, per 64 KB of payload
	DynamoDBRead  Class = "dynamodbRead"  // a DynamoDB data read (read request units)
	DynamoDBWrite Class = "dynamodbWrite" // a DynamoDB data write (write request units)
	Other         Class = "other"         // control plane or another service: in no per-webhook figure
)

// Service ids as the SDK reports them (awsmiddleware.GetServiceID).
const (
	ServiceSQS      = "SQS"
	ServiceDynamoDB = "DynamoDB"
)

// dynamoClass are the DynamoDB data operations. PartiQL statements are left out
// (Other): whether one reads or writes depends on the statement.
var dynamoClass = map[string]Class{
	"GetItem":            DynamoDBRead,
	"BatchGetItem":       DynamoDBRead,
	"Query":              DynamoDBRead,
	"Scan":               DynamoDBRead,
	"TransactGetItems":   DynamoDBRead,
	"PutItem":            DynamoDBWrite,
	"UpdateItem":         DynamoDBWrite,
	"DeleteItem":         DynamoDBWrite,
	"BatchWriteItem":     DynamoDBWrite,
	"TransactWriteItems": DynamoDBWrite,
}

// Classify says how op is billed. Every SQS operation is an SQS request (SQS bills
// all of its API calls); a DynamoDB data operation is a read or a write, whether or
// not its condition held; the rest is Other.
func Classify(op Op) Class {
	switch op.Service {
	case ServiceSQS:
		return SQSRequest
	case ServiceDynamoDB:
		if c, ok := dynamoClass[op.Operation]; ok {
			return c
		}
	}
	return Other
}
