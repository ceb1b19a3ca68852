package ksqldb

// The response entities of POST /ksql, in ksqlDB 0.28's shapes (package
// io.confluent.ksql.rest.entity of ksqldb-rest-model): each has its
// "@type" first, then its fields in ksqlDB's order.

type warning struct {
	Message string `json:"message"`
}

type commandStatus struct {
	Status  string  `json:"status"`
	Message string  `json:"message"`
	QueryID *string `json:"queryId"`
}

// currentStatus is CommandStatusEntity: the answer to a statement that
// changes the catalogue (CREATE, DROP, TERMINATE).
type currentStatus struct {
	Type          string        `json:"@type"`
	StatementText string        `json:"statementText"`
	CommandID     string        `json:"commandId"`
	CommandStatus commandStatus `json:"commandStatus"`
	CommandSeq    int           `json:"commandSequenceNumber"`
	Warnings      []warning     `json:"warnings"`
}

type sourceInfo struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Topic       string `json:"topic"`
	KeyFormat   string `json:"keyFormat"`
	ValueFormat string `json:"valueFormat"`
	IsWindowed  bool   `json:"isWindowed"`
}

type streamsList struct {
	Type          string       `json:"@type"`
	StatementText string       `json:"statementText"`
	Streams       []sourceInfo `json:"streams"`
	Warnings      []warning    `json:"warnings"`
}

type tablesList struct {
	Type          string       `json:"@type"`
	StatementText string       `json:"statementText"`
	Tables        []sourceInfo `json:"tables"`
	Warnings      []warning    `json:"warnings"`
}

type runningQuery struct {
	QueryString     string         `json:"queryString"`
	Sinks           []string       `json:"sinks"`
	SinkKafkaTopics []string       `json:"sinkKafkaTopics"`
	ID              string         `json:"id"`
	StatusCount     map[string]int `json:"statusCount"`
	QueryType       string         `json:"queryType"`
	State           string         `json:"state"`
}

type queriesList struct {
	Type          string         `json:"@type"`
	StatementText string         `json:"statementText"`
	Queries       []runningQuery `json:"queries"`
	Warnings      []warning      `json:"warnings"`
}

type topicInfo struct {
	Name        string `json:"name"`
	ReplicaInfo []int  `json:"replicaInfo"`
}

type topicsList struct {
	Type          string      `json:"@type"`
	StatementText string      `json:"statementText"`
	Topics        []topicInfo `json:"topics"`
	Warnings      []warning   `json:"warnings"`
}

type propertiesList struct {
	Type          string     `json:"@type"`
	StatementText string     `json:"statementText"`
	Properties    []property `json:"properties"`
	Overwritten   []string   `json:"overwrittenProperties"`
	Defaults      []string   `json:"defaultProperties"`
	Warnings      []warning  `json:"warnings"`
}

type property struct {
	Name  string `json:"name"`
	Scope string `json:"scope"`
	Value string `json:"value"`
}

type schemaInfo struct {
	Type         string      `json:"type"`
	Fields       []fieldInfo `json:"fields"`
	MemberSchema *schemaInfo `json:"memberSchema"`
}

type fieldInfo struct {
	Name      string     `json:"name"`
	Schema    schemaInfo `json:"schema"`
	FieldType string     `json:"type,omitempty"`
}

type sourceDescription struct {
	Name                 string         `json:"name"`
	WindowType           *string        `json:"windowType"`
	ReadQueries          []runningQuery `json:"readQueries"`
	WriteQueries         []runningQuery `json:"writeQueries"`
	Fields               []fieldInfo    `json:"fields"`
	Type                 string         `json:"type"`
	Timestamp            string         `json:"timestamp"`
	Statistics           string         `json:"statistics"`
	ErrorStats           string         `json:"errorStats"`
	Extended             bool           `json:"extended"`
	KeyFormat            string         `json:"keyFormat"`
	ValueFormat          string         `json:"valueFormat"`
	Topic                string         `json:"topic"`
	Partitions           int            `json:"partitions"`
	Replication          int            `json:"replication"`
	Statement            string         `json:"statement"`
	QueryOffsetSummaries []any          `json:"queryOffsetSummaries"`
	SourceConstraints    []string       `json:"sourceConstraints"`
	ClusterStatistics    []any          `json:"clusterStatistics"`
	ClusterErrorStats    []any          `json:"clusterErrorStats"`
}

type sourceDescriptionEntity struct {
	Type              string            `json:"@type"`
	StatementText     string            `json:"statementText"`
	SourceDescription sourceDescription `json:"sourceDescription"`
	Warnings          []warning         `json:"warnings"`
}

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []any             `json:"tasks"`
	Type   string            `json:"type"`
}

type connectorInfoEntity struct {
	Type          string        `json:"@type"`
	StatementText string        `json:"statementText"`
	Info          connectorInfo `json:"info"`
	Warnings      []warning     `json:"warnings"`
}

type dropConnector struct {
	Type          string    `json:"@type"`
	StatementText string    `json:"statementText"`
	ConnectorName string    `json:"connectorName"`
	Warnings      []warning `json:"warnings"`
}

type simpleConnector struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	ClassName string `json:"className"`
	State     string `json:"state"`
}

type connectorList struct {
	Type          string            `json:"@type"`
	StatementText string            `json:"statementText"`
	Warnings      []warning         `json:"warnings"`
	Connectors    []simpleConnector `json:"connectors"`
}

type warningEntity struct {
	Type          string    `json:"@type"`
	StatementText string    `json:"statementText"`
	Message       string    `json:"message"`
	Warnings      []warning `json:"warnings"`
}

// statementError is KsqlStatementErrorMessage: a statement failed; the
// entities of the statements before it in the request are kept.
type statementError struct {
	Type          string `json:"@type"`
	Code          int    `json:"error_code"`
	Message       string `json:"message"`
	StatementText string `json:"statementText"`
	Entities      []any  `json:"entities"`
}

// genericError is KsqlErrorMessage.
type genericError struct {
	Type    string `json:"@type"`
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

// ksqlDB's error codes (io.confluent.ksql.rest.Errors).
const (
	errBadRequest      = 40000
	errBadStatement    = 40001
	errNotFound        = 40400
	errServer          = 50000
	errQueryEndpoint   = 40002
	errUnauthorized    = 40100
	errRequestTooLarge = 41300
)
