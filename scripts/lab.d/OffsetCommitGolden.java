import org.apache.kafka.coordinator.group.GroupCoordinatorRecordSerde;
import org.apache.kafka.coordinator.group.generated.*;
import org.apache.kafka.coordinator.common.runtime.CoordinatorRecord;
import org.apache.kafka.server.common.ApiMessageAndVersion;

// The golden vectors of src/collect/kafka/committed.rs (records_kafka_itself_wrote_decode),
// written by Kafka's own GroupCoordinatorRecordSerde. Run with the lab's jars:
//   java -cp "<lab cache>/kafka-<version>-*/libs/*" scripts/lab.d/OffsetCommitGolden.java
public class OffsetCommitGolden {
    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }
    public static void main(String[] args) {
        GroupCoordinatorRecordSerde serde = new GroupCoordinatorRecordSerde();
        for (short v = 0; v <= 4; v++) {
            OffsetCommitValue val = new OffsetCommitValue().setOffset(42).setMetadata("m").setCommitTimestamp(1700000000000L);
            if (v >= 3) val.setLeaderEpoch(7);
            if (v == 1) val.setExpireTimestamp(1700000060000L);
            CoordinatorRecord rec = CoordinatorRecord.record(
                new OffsetCommitKey().setGroup("g").setTopic("orders").setPartition(3),
                new ApiMessageAndVersion(val, v));
            System.out.println("value v" + v + " " + hex(serde.serializeKey(rec)) + " " + hex(serde.serializeValue(rec)));
        }
        CoordinatorRecord legacy = CoordinatorRecord.record(
            new LegacyOffsetCommitKey().setGroup("g").setTopic("t").setPartition(0),
            new ApiMessageAndVersion(new LegacyOffsetCommitValue().setOffset(5).setMetadata("").setCommitTimestamp(1L), (short) 0));
        System.out.println("legacy " + hex(serde.serializeKey(legacy)) + " " + hex(serde.serializeValue(legacy)));
        CoordinatorRecord tomb = CoordinatorRecord.tombstone(new OffsetCommitKey().setGroup("g").setTopic("t").setPartition(1));
        System.out.println("tombstone " + hex(serde.serializeKey(tomb)));
    }
}
