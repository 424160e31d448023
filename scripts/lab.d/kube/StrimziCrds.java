// Prints Strimzi's CustomResourceDefinitions, as io.strimzi:api builds them
// (io.strimzi.api.kafka.Crds), one JSON object per line, to apply to the lab's
// API servers. Run with the jars of pom.xml on the classpath:
//   java -cp 'libs/*' StrimziCrds.java > crds.jsonl
import com.fasterxml.jackson.databind.ObjectMapper;
import io.strimzi.api.kafka.Crds;

public class StrimziCrds {
    public static void main(String[] args) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        Object[] crds = {
            Crds.kafka(), Crds.kafkaNodePool(), Crds.kafkaConnect(), Crds.kafkaConnector(),
            Crds.kafkaMirrorMaker2(), Crds.kafkaTopic(), Crds.kafkaUser(), Crds.kafkaBridge(),
            Crds.kafkaRebalance(), Crds.strimziPodSet(),
        };
        for (Object crd : crds) {
            System.out.println(mapper.writeValueAsString(crd));
        }
    }
}
