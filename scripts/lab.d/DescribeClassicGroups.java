// scripts/lab tool describe-classic-groups --bootstrap-server HOST:PORT GROUP...
//
// Kafka's kafka-consumer-groups refuses groups whose protocol type is not
// "consumer" ("GroupId mirrormaker2-cluster is not a consumer group
// (connect)"), so there is no stock CLI showing who is in a Kafka Connect
// worker group. This single-file program (run by `java` from source, on the
// lab's classpath) uses Admin#describeClassicGroups (KIP-1043) instead.
// Output, tab-separated, one line per group then one per member:
//   group<TAB>GROUP<TAB>state=STATE<TAB>protocol=P<TAB>protocolData=D<TAB>members=N
//   member<TAB>GROUP<TAB>MEMBER-ID<TAB>client=CLIENT-ID<TAB>host=HOST
// A group without members shows state=Empty (it still has offsets) or
// state=Dead; one the broker never heard of shows state=NotFound; all with
// members=0. Exit 0 unless the cluster could not be asked.
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ClassicGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.errors.GroupIdNotFoundException;

public class DescribeClassicGroups {
    public static void main(String[] args) throws Exception {
        String bootstrap = null;
        List<String> groups = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--bootstrap-server") && i + 1 < args.length) bootstrap = args[++i];
            else groups.add(args[i]);
        }
        if (bootstrap == null || groups.isEmpty()) {
            System.err.println("usage: describe-classic-groups --bootstrap-server HOST:PORT GROUP...");
            System.exit(2);
        }
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        try (Admin admin = Admin.create(p)) {
            var futures = admin.describeClassicGroups(groups).describedGroups();
            for (String g : groups) {
                ClassicGroupDescription d;
                try {
                    d = futures.get(g).get();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof GroupIdNotFoundException)) throw e;
                    System.out.printf("group\t%s\tstate=NotFound\tprotocol=\tprotocolData=\tmembers=0%n", g);
                    continue;
                }
                System.out.printf("group\t%s\tstate=%s\tprotocol=%s\tprotocolData=%s\tmembers=%d%n",
                    d.groupId(), d.state(), d.protocol(), d.protocolData(), d.members().size());
                for (MemberDescription m : d.members()) {
                    System.out.printf("member\t%s\t%s\tclient=%s\thost=%s%n",
                        d.groupId(), m.consumerId(), m.clientId(), m.host());
                }
            }
        }
    }
}
