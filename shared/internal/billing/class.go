package billing

// Class is how AWS bills a request.
type Class string

// Classes of requests.
const (
	SQSRequest    Class = "sqs"           // any SQS API call, per 64 KB of payload
	DynamoDBRead  Class = "dynamodbRead"  // a DynamoDB data read (read request units)
	DynamoDBWrite Class = "dynamodbWrite" // a DynamoDB data write (write request units)
	S3Put         Class = "s3Put"         // an S3 request of the PUT tier: PUT, COPY, POST, LIST
	S3Get         Class = "s3Get"         // an S3 request of the GET tier: GET, HEAD
	Free          Class = "free"          // a request AWS does not bill (S3 DELETE)
	Other         Class = "other"         // control plane or another service: in no per-webhook figure
)

// Service ids as the SDK reports them (awsmiddleware.GetServiceID).
const (
	ServiceSQS      = "SQS"
	ServiceDynamoDB = "DynamoDB"
	ServiceS3       = "S3"
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

// s3Class are the S3 object operations the claim check makes or could make, by
// S3 Standard's price tiers. DeleteObject is free; other operations (bucket
// configuration) are Other.
var s3Class = map[string]Class{
	"PutObject":     S3Put,
	"CopyObject":    S3Put,
	"ListObjects":   S3Put,
	"ListObjectsV2": S3Put,
	"GetObject":     S3Get,
	"HeadObject":    S3Get,
	"DeleteObject":  Free,
}

// Classify says how op is billed. Every SQS operation is an SQS request (SQS bills
// all of its API calls); a DynamoDB data operation is a read or a write, whether or
// not its condition held; an S3 object operation is of the PUT or the GET tier, or
// free (DeleteObject); the rest is Other.
func Classify(op Op) Class {
	switch op.Service {
	case ServiceSQS:
		return SQSRequest
	case ServiceDynamoDB:
		if c, ok := dynamoClass[op.Operation]; ok {
			return c
		}
	case ServiceS3:
		if c, ok := s3Class[op.Operation]; ok {
			return c
		}
	}
	return Other
}
