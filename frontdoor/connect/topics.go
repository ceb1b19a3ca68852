package connect

// KafkaTopics carries topics in a Kafka cluster (sluice serve --kafka): the
// kafka sink writes them, the kafka source reads them in the consumer
// group connect-<connector>, as Kafka Connect's sink tasks do.
type KafkaTopics struct {
	Brokers []string
}

// Writer implements Topics.
func (k KafkaTopics) Writer(connector, topic string, w WriterOptions) Node {
	n := Node{"type": "kafka", "brokers": k.Brokers, "topic": topic, "format": writerFormat(w), "tombstones_on_delete": w.Tombstones && !w.Flat}
	return n
}

// Reader implements Topics.
func (k KafkaTopics) Reader(connector string, topics []string, regex string) Node {
	n := Node{"type": "kafka", "brokers": k.Brokers, "group_id": "connect-" + connector, "start_offset": "earliest", "stream_from_topic": true}
	if regex != "" {
		n["topic_regex"] = regex
	} else {
		n["topics"] = topics
	}
	return n
}

// LogTopics carries topics in the server's own topic log (package
// internal/topiclog, types topiclog): a sink connector reads from the
// earliest retained offset, its checkpoint being its offsets per topic.
type LogTopics struct {
	Dir string
}

// Writer implements Topics.
func (l LogTopics) Writer(connector, topic string, w WriterOptions) Node {
	return Node{"type": "topiclog", "dir": l.Dir, "topic": topic, "format": writerFormat(w), "tombstones_on_delete": w.Tombstones && !w.Flat}
}

// Reader implements Topics.
func (l LogTopics) Reader(connector string, topics []string, regex string) Node {
	n := Node{"type": "topiclog", "dir": l.Dir, "start_offset": "earliest", "stream_from_topic": true}
	if regex != "" {
		n["topic_regex"] = regex
	} else {
		n["topics"] = topics
	}
	return n
}

// writerFormat is the records' format: Debezium's envelope, which the
// readers decode back into events, with its schema when the converter
// asks for it — and always for rows of JDBC and FileStream sources, whose
// column types only the schema carries back.
func writerFormat(w WriterOptions) string {
	if w.Schemas || w.Flat {
		return "debezium+schema"
	}
	return "debezium"
}
